using Gentoo.Operator.Cli;
using Gentoo.Operator.Hosting;
using Serilog.Events;

namespace Gentoo.Operator.Tests.Hosting;

public sealed class OperatorOptionsTests
{
    [Fact]
    public void Command_line_options_set_every_setting()
    {
        var result = OperatorCommand.Create().Parse([
            "--namespace", "builds", "--leader-elect", "false", "--health-port", "9090", "--log-level", "debug",
            "--json-logs", "--install-crds", "--kubeconfig", "/tmp/kc", "--context", "home", "--bind-address", "127.0.0.1",
        ]);

        result.Errors.ShouldBeEmpty();
        var options = OperatorCommand.Read(result);
        options.ShouldBe(new OperatorOptions
        {
            WatchNamespace = "builds",
            LeaderElection = false,
            LeaderElectionNamespace = Environment.GetEnvironmentVariable("POD_NAMESPACE"),
            HealthPort = 9090,
            LogLevel = LogEventLevel.Debug,
            JsonLogs = true,
            InstallCrds = true,
            Kubeconfig = "/tmp/kc",
            Context = "home",
            BindAddress = "127.0.0.1",
        });
    }

    [Fact]
    public void Invalid_port_on_the_command_line_is_refused_with_its_name()
    {
        var result = OperatorCommand.Create().Parse(["--health-port", "70000"]);

        Should.Throw<StartupException>(() => OperatorCommand.Read(result)).Message
            .ShouldBe("--health-port=70000 is not a port: use a number from 1 to 65535");
    }
}

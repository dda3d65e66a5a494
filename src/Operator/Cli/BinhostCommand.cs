using System.CommandLine;
using Gentoo.Operator.Binhost;

namespace Gentoo.Operator.Cli;

/// <summary>binhost: serves a PKGDIR to Portage clients (the process a builder's binhost Deployment runs).</summary>
public static class BinhostCommand
{
    public static Command Create()
    {
        var pkgdir = new Option<DirectoryInfo>("--pkgdir") { Description = "The binary package directory to serve", Required = true };
        var name = new Option<string>("--name") { Description = "The binrepos.conf section name (default: gentoo-builder)", DefaultValueFactory = _ => "gentoo-builder" };
        var port = new Option<int>("--port") { Description = "The port to listen on", DefaultValueFactory = _ => 8080 };
        var bind = new Option<string>("--bind-address") { Description = "The address to listen on", DefaultValueFactory = _ => "0.0.0.0" };
        var key = new Option<FileInfo?>("--signing-key") { Description = "The armored public key the packages are signed with; without it they are served as unsigned" };
        var command = new Command("binhost", "Serve binary packages over HTTP with a current Packages index") { pkgdir, name, port, bind, key };
        command.SetAction(async (result, ct) =>
        {
            var directory = result.GetValue(pkgdir)!;
            if (!directory.Exists)
            {
                await Console.Error.WriteLineAsync($"gentoo-operator binhost: --pkgdir {directory.FullName} does not exist (is the binpkgs volume mounted?)");
                return 2;
            }

            await using var app = BinhostServer.Build(new BinhostOptions(directory.FullName, result.GetValue(name)!, result.GetValue(bind)!, result.GetValue(port), result.GetValue(key)?.FullName), TimeProvider.System);
            await app.RunAsync(ct);
            return 0;
        });
        return command;
    }
}

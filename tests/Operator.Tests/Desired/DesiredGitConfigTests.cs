using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Desired;
using k8s.Models;

namespace Gentoo.Operator.Tests.Desired;

public sealed class DesiredGitConfigTests : IDisposable
{
    private readonly DirectoryInfo work = Directory.CreateTempSubdirectory("git-config-");

    public void Dispose() => work.Delete(recursive: true);

    private static GentooBootstrap Bootstrap(string url, string? reference, string? path) => new()
    {
        Metadata = new V1ObjectMeta { Name = "plasma", NamespaceProperty = "gentoo", Uid = "u-plasma" },
        Spec = new GentooBootstrapSpec
        {
            Stage3 = new Stage3Source { Image = "docker.io/gentoo/stage3:amd64-openrc" },
            Profile = "default/linux/amd64/23.0",
            ConfigFrom =
            [
                new ConfigSource { ConfigMapRef = new LocalReference { Name = "plasma-portage" } },
                new ConfigSource { Git = new GitConfigSource { Url = url, Ref = reference, Path = path } },
            ],
        },
    };

    [Fact]
    public void A_git_source_becomes_an_init_container_checkout_that_the_agent_applies_as_a_tree()
    {
        var pod = DesiredBootstrap.Pod(Bootstrap("https://git.example.org/portage.git; rm -rf /", "stable", "hosts/desktop/"), 1, new PodSettings("gentoo-builder:1.0"));

        var checkout = pod.Spec.InitContainers.Single(c => c.Name == DesiredGitConfig.Volume);
        checkout.Image.ShouldBe("gentoo-builder:1.0");
        checkout.Env.Single(e => e.Name == "GIT_URL_0").Value.ShouldBe("https://git.example.org/portage.git; rm -rf /");
        checkout.Command.Last().ShouldNotContain("git.example.org", customMessage: "the URL reaches git through the environment, never the shell");
        var args = pod.Spec.Containers.Single().Args;
        args[args.IndexOf("--config-tree") + 1].ShouldBe("/etc/gentoo-builder/git/0/hosts/desktop");
        pod.Spec.Containers.Single().VolumeMounts.Single(m => m.Name == DesiredGitConfig.Volume).ReadOnlyProperty.ShouldBe(true);
    }

    [Fact]
    public void A_path_leaving_the_repository_is_refused_naming_the_field() =>
        DesiredGitConfig.Problem(Bootstrap("https://git.example.org/portage.git", null, "../../etc").Spec.ConfigFrom)
            .ShouldBe("spec.configFrom[1].git.path '../../etc' leaves the repository: use a directory inside it");

    /// <summary>A repository with hosts/desktop/make.conf on branch stable.</summary>
    private string Origin()
    {
        var origin = Path.Combine(work.FullName, "origin");
        Git(work.FullName, "init", "-q", "-b", "stable", origin);
        Directory.CreateDirectory(Path.Combine(origin, "hosts", "desktop"));
        File.WriteAllText(Path.Combine(origin, "hosts", "desktop", "make.conf"), "USE=\"wayland\"\n");
        Git(origin, "add", ".");
        Git(origin, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "desktop");
        return origin;
    }

    /// <summary>Runs the init container's script here, its mounts mapped to temporary directories.</summary>
    private (int ExitCode, string Output, string Error, string Checkouts) RunCheckout(GitConfigSource source, string? authDirectory = null, string? path = null)
    {
        var container = DesiredGitConfig.CheckoutContainer([source], "unused");
        var checkouts = work.CreateSubdirectory("checkouts-" + Guid.NewGuid().ToString("N")).FullName;
        var run = new ProcessStartInfo(container.Command[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in container.Command.Skip(1))
        {
            run.ArgumentList.Add(arg);
        }

        foreach (var env in container.Env)
        {
            run.Environment[env.Name] = env.Name is "HOME" or "GIT_CHECKOUTS" ? checkouts : env.Name == "GIT_AUTH_0" && env.Value.Length > 0 ? authDirectory : env.Value;
        }

        if (path is not null)
        {
            run.Environment["PATH"] = path + ":" + Environment.GetEnvironmentVariable("PATH");
        }

        using var process = Process.Start(run)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output.Result, error, checkouts);
    }

    [Fact]
    public void The_checkout_script_fetches_the_ref_of_a_real_repository()
    {
        var origin = Origin();

        var (exit, output, error, checkouts) = RunCheckout(new GitConfigSource { Url = origin, Ref = "stable", Path = "hosts/desktop" });

        exit.ShouldBe(0, error);
        output.ShouldContain($"configuration from {origin} at stable: ");
        File.ReadAllText(Path.Combine(checkouts, "0", "hosts", "desktop", "make.conf")).ShouldBe("USE=\"wayland\"\n");
    }

    [Fact]
    public void A_source_with_a_secret_mounts_it_in_the_init_container_only_and_never_puts_credentials_in_the_spec()
    {
        var bootstrap = Bootstrap("https://git.example.org/private.git", "stable", null);
        bootstrap.Spec.ConfigFrom![1].Git!.SecretRef = new LocalReference { Name = "portage-git" };

        var pod = DesiredBootstrap.Pod(bootstrap, 1, new PodSettings("gentoo-builder:1.0"));

        var volume = pod.Spec.Volumes.Single(v => v.Secret is not null);
        volume.Secret.SecretName.ShouldBe("portage-git");
        volume.Secret.DefaultMode.ShouldBe(256);
        var checkout = pod.Spec.InitContainers.Single(c => c.Name == DesiredGitConfig.Volume);
        checkout.VolumeMounts.Single(m => m.Name == volume.Name).MountPath.ShouldBe("/etc/gentoo-builder/git-auth/0");
        checkout.Env.Single(e => e.Name == "GIT_AUTH_0").Value.ShouldBe("/etc/gentoo-builder/git-auth/0", "the first git source");
        checkout.Env.Single(e => e.Name == "GIT_TERMINAL_PROMPT").Value.ShouldBe("0");
        checkout.SecurityContext.RunAsUser.ShouldBe(0, "the Secret's files are readable by root alone");
        pod.Spec.Containers.Single().VolumeMounts.ShouldNotContain(m => m.Name == volume.Name, "the build container never sees the credentials");
    }

    [Fact]
    public async Task The_checkout_script_fetches_a_private_repository_over_https_with_the_secrets_username_and_password()
    {
        var origin = Origin();
        var served = work.CreateSubdirectory("served");
        Git(work.FullName, "clone", "-q", "--bare", origin, Path.Combine(served.FullName, "portage.git"));
        await using var server = GitServer(served.FullName, "builder", "s3cret-token");
        await server.StartAsync();
        var url = ListeningAddress.Of(server).ToString().TrimEnd('/') + "/portage.git";
        string Credentials(string password)
        {
            var directory = work.CreateSubdirectory("auth-" + password).FullName;
            File.WriteAllText(Path.Combine(directory, "username"), "builder");
            File.WriteAllText(Path.Combine(directory, "password"), password);
            return directory;
        }

        var source = new GitConfigSource { Url = url, Ref = "stable", Path = "hosts/desktop", SecretRef = new LocalReference { Name = "portage-git" } };
        var (exit, _, error, checkouts) = RunCheckout(source, Credentials("s3cret-token"));

        exit.ShouldBe(0, error);
        File.ReadAllText(Path.Combine(checkouts, "0", "hosts", "desktop", "make.conf")).ShouldBe("USE=\"wayland\"\n");
        var wrong = RunCheckout(source, Credentials("guessed"));
        wrong.ExitCode.ShouldNotBe(0, "the server refuses other credentials");
        wrong.Error.ShouldContain("Authentication failed");
        RunCheckout(new GitConfigSource { Url = url, Ref = "stable" }).ExitCode.ShouldNotBe(0, "and a source without a secret, without waiting for a password");
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")] // a shell-script stand-in for ssh
    public void An_ssh_source_connects_with_the_secrets_key_and_trusts_only_its_known_hosts()
    {
        var auth = work.CreateSubdirectory("ssh-auth").FullName;
        File.WriteAllText(Path.Combine(auth, "ssh-privatekey"), "not used by the stand-in");
        File.WriteAllText(Path.Combine(auth, "known_hosts"), "git.example.org ssh-ed25519 AAAA\n");
        var bin = work.CreateSubdirectory("bin").FullName;
        var record = Path.Combine(work.FullName, "ssh.args");
        File.WriteAllText(Path.Combine(bin, "ssh"), $"#!/bin/sh\necho \"$*\" > '{record}'\nexit 1\n"); // a stand-in: no ssh server here
        File.SetUnixFileMode(Path.Combine(bin, "ssh"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        var (exit, _, _, _) = RunCheckout(new GitConfigSource { Url = "git@git.example.org:me/portage.git", SecretRef = new LocalReference { Name = "portage-ssh" } }, auth, bin);

        exit.ShouldNotBe(0);
        var args = File.ReadAllText(record);
        args.ShouldContain($"-i {auth}/ssh-privatekey -o IdentitiesOnly=yes -o UserKnownHostsFile={auth}/known_hosts -o StrictHostKeyChecking=yes");
        args.ShouldContain("git@git.example.org");
    }

    /// <summary>git's own smart HTTP server (git http-backend, run as CGI) behind HTTP basic authentication.</summary>
    private static WebApplication GitServer(string projectRoot, string user, string password)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"));
        app.Run(async context =>
        {
            var request = context.Request;
            if (request.Headers.Authorization.ToString() != expected)
            {
                context.Response.StatusCode = 401;
                context.Response.Headers.WWWAuthenticate = "Basic realm=\"git\"";
                return;
            }

            var start = new ProcessStartInfo("git", ["http-backend"]) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
            start.Environment["GIT_PROJECT_ROOT"] = projectRoot;
            start.Environment["GIT_HTTP_EXPORT_ALL"] = "1";
            start.Environment["PATH_INFO"] = request.Path.Value;
            start.Environment["REQUEST_METHOD"] = request.Method;
            start.Environment["QUERY_STRING"] = request.QueryString.Value?.TrimStart('?') ?? "";
            start.Environment["CONTENT_TYPE"] = request.ContentType ?? "";
            start.Environment["REMOTE_USER"] = user;
            start.Environment["REMOTE_ADDR"] = "127.0.0.1";
            start.Environment["HTTP_CONTENT_ENCODING"] = request.Headers.ContentEncoding.ToString();
            start.Environment["HTTP_GIT_PROTOCOL"] = request.Headers["Git-Protocol"].ToString();
            using var process = Process.Start(start)!;
            var input = Task.Run(async () =>
            {
                await request.Body.CopyToAsync(process.StandardInput.BaseStream);
                process.StandardInput.Close();
            });
            using var answer = new MemoryStream();
            await process.StandardOutput.BaseStream.CopyToAsync(answer);
            await input;
            await process.WaitForExitAsync();
            var bytes = answer.ToArray();
            var end = IndexOf(bytes, "\r\n\r\n"u8) is var crlf and >= 0 ? (crlf, 4) : (IndexOf(bytes, "\n\n"u8), 2);
            foreach (var line in Encoding.ASCII.GetString(bytes, 0, end.Item1).Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0))
            {
                var (name, value) = (line[..line.IndexOf(':', StringComparison.Ordinal)], line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim());
                if (name.Equals("Status", StringComparison.OrdinalIgnoreCase))
                {
                    context.Response.StatusCode = int.Parse(value[..3], System.Globalization.CultureInfo.InvariantCulture);
                }
                else
                {
                    context.Response.Headers[name] = value;
                }
            }

            await context.Response.Body.WriteAsync(bytes.AsMemory(end.Item1 + end.Item2));
        });
        return app;
    }

    private static int IndexOf(byte[] bytes, ReadOnlySpan<byte> what) => bytes.AsSpan().IndexOf(what);

    private static void Git(string directory, params string[] args)
    {
        var start = new ProcessStartInfo("git") { WorkingDirectory = directory, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        process.WaitForExit();
        process.ExitCode.ShouldBe(0, process.StandardError.ReadToEnd());
    }
}

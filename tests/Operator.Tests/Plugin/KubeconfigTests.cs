using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Gentoo.Plugin;

namespace Gentoo.Operator.Tests.Plugin;

/// <summary>The plugin reads kubeconfigs as kubectl does: contexts, namespaces, files named relative to the kubeconfig.</summary>
public sealed class KubeconfigTests : IDisposable
{
    private readonly DirectoryInfo directory = Directory.CreateTempSubdirectory("plugin-kubeconfig-");

    public void Dispose() => directory.Delete(recursive: true);

    [Fact]
    public void The_current_or_the_chosen_context_gives_server_namespace_and_a_certificate_named_relative_to_the_kubeconfig()
    {
        using var key = ECDsa.Create();
        using var authority = new CertificateRequest("CN=test-ca", key, HashAlgorithmName.SHA256).CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        Directory.CreateDirectory(Path.Combine(directory.FullName, "pki"));
        File.WriteAllText(Path.Combine(directory.FullName, "pki", "ca.crt"), authority.ExportCertificatePem());
        var path = Path.Combine(directory.FullName, "config");
        File.WriteAllText(path, """
            apiVersion: v1
            kind: Config
            preferences: {colors: true}
            clusters:
            - name: home
              cluster: {server: "https://k3s.home.arpa:6443", certificate-authority: pki/ca.crt}
              extensions:
              - name: client.authentication.k8s.io/exec
                extension: {audience: nobody}
            - name: work
              cluster: {server: "https://10.0.0.1:6443", insecure-skip-tls-verify: true}
            contexts:
            - name: home
              context: {cluster: home, user: me, namespace: gentoo}
            - name: work
              context: {cluster: work, user: me}
            current-context: home
            users:
            - name: me
              user: {token: not-a-real-token}
            """);

        var home = Cluster.Configuration(path, context: null);
        home.Host.ShouldBe("https://k3s.home.arpa:6443");
        home.Namespace.ShouldBe("gentoo");
        // The certificate is read from pki/ca.crt beside the kubeconfig, wherever the command runs.
        home.SslCaCerts.ShouldHaveSingleItem().Subject.ShouldBe("CN=test-ca");

        var work = Cluster.Configuration(path, context: "work");
        work.Host.ShouldBe("https://10.0.0.1:6443");
        work.SkipTlsVerify.ShouldBeTrue();
        using var cluster = Cluster.Connect(path, context: "work", ns: null);
        cluster.Namespace.ShouldBe("default");
        using var chosen = Cluster.Connect(path, context: "work", ns: "builds");
        chosen.Namespace.ShouldBe("builds");
    }

    [Theory]
    [InlineData("clusters: [unclosed")]
    [InlineData("")]
    [InlineData("current-context: nowhere\ncontexts: []\nclusters: []\nusers: []\n")]
    public void A_kubeconfig_that_cannot_be_used_is_one_line_naming_the_file(string text)
    {
        var path = Path.Combine(directory.FullName, "broken");
        File.WriteAllText(path, text);
        Should.Throw<PluginException>(() => Cluster.Connect(path, null, null)).Message.ShouldStartWith($"no usable kubeconfig: {path}: ");
        Should.Throw<PluginException>(() => Cluster.Connect(Path.Combine(directory.FullName, "missing"), null, null)).Message.ShouldContain("missing");
    }

    [Fact]
    public void A_kubeconfig_list_is_merged_as_kubectl_merges_it_the_first_file_to_name_a_thing_winning()
    {
        using var key = ECDsa.Create();
        using var authority = new CertificateRequest("CN=work-ca", key, HashAlgorithmName.SHA256).CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var workDirectory = Directory.CreateDirectory(Path.Combine(directory.FullName, "work"));
        File.WriteAllText(Path.Combine(workDirectory.FullName, "ca.crt"), authority.ExportCertificatePem());
        var home = Path.Combine(directory.FullName, "home.yaml");
        File.WriteAllText(home, """
            clusters:
            - name: home
              cluster: {server: "https://k3s.home.arpa:6443", insecure-skip-tls-verify: true}
            contexts:
            - name: home
              context: {cluster: home, user: me, namespace: gentoo}
            current-context: home
            users:
            - name: me
              user: {token: home-token}
            """);
        var work = Path.Combine(workDirectory.FullName, "config");
        File.WriteAllText(work, """
            clusters:
            - name: home
              cluster: {server: "https://not-the-first.example:6443"}
            - name: office
              cluster: {server: "https://10.0.0.1:6443", certificate-authority: ca.crt}
            contexts:
            - name: office
              context: {cluster: office, user: me, namespace: builds}
            current-context: office
            users:
            - name: me
              user: {token: work-token}
            """);
        var list = string.Join(Path.PathSeparator, home, Path.Combine(directory.FullName, "absent"), work);

        // The first file sets current-context and defines cluster "home" and user "me"; the second adds "office".
        var current = Cluster.Configuration(list, context: null);
        current.Host.ShouldBe("https://k3s.home.arpa:6443");
        current.AccessToken.ShouldBe("home-token");
        current.Namespace.ShouldBe("gentoo");
        var office = Cluster.Configuration(list, context: "office");
        office.Host.ShouldBe("https://10.0.0.1:6443");
        office.AccessToken.ShouldBe("home-token");
        office.Namespace.ShouldBe("builds");
        // ca.crt is relative to the second file, not to the first or to where the command runs.
        office.SslCaCerts.ShouldHaveSingleItem().Subject.ShouldBe("CN=work-ca");

        // The operator reads the same list the same way.
        var operatorView = Gentoo.Operator.Hosting.ClusterConnection.LoadConfiguration(new Gentoo.Operator.Hosting.OperatorOptions { Kubeconfig = list, Context = "office" }, TimeProvider.System);
        operatorView.Host.ShouldBe("https://10.0.0.1:6443");
        operatorView.SslCaCerts.ShouldHaveSingleItem().Subject.ShouldBe("CN=work-ca");

        // A broken file in the list is named.
        File.WriteAllText(work, "clusters: [unclosed");
        Should.Throw<PluginException>(() => Cluster.Configuration(list, context: null)).Message.ShouldContain($"{work}: not a kubeconfig");
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")] // shell-script credential plugins
    public async Task An_exec_user_gets_its_token_from_the_plugin_with_the_request_and_cluster_described_and_again_once_it_expires()
    {
        var asked = Path.Combine(directory.FullName, "asked");
        var runs = Path.Combine(directory.FullName, "runs");
        // A plugin whose tokens are already expired: each request asks it again. Arguments arrive as given, spaces kept.
        var plugin = Script("plugin", $$$"""
            echo x >> {{{runs}}}
            printf '%s|%s|%s' "$1" "$GREETING" "$KUBERNETES_EXEC_INFO" > {{{asked}}}
            echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"token-'$(wc -l < {{{runs}}})'","expirationTimestamp":"2020-01-01T00:00:00Z"}}'
            """);
        var path = Kubeconfig($$$"""
            users:
            - name: me
              user:
                exec:
                  apiVersion: client.authentication.k8s.io/v1
                  command: {{{plugin}}}
                  args: ["two words"]
                  env: [{name: GREETING, value: hello}]
                  provideClusterInfo: true
            """);

        var config = Cluster.Configuration(path, context: null);
        config.AccessToken.ShouldBe("token-1");
        var (argument, greeting, info) = File.ReadAllText(asked).Split('|') is [var a, var g, var i] ? (a, g, i) : default;
        argument.ShouldBe("two words");
        greeting.ShouldBe("hello");
        using (var request = System.Text.Json.JsonDocument.Parse(info))
        {
            request.RootElement.GetProperty("kind").GetString().ShouldBe("ExecCredential");
            request.RootElement.GetProperty("apiVersion").GetString().ShouldBe("client.authentication.k8s.io/v1");
            request.RootElement.GetProperty("spec").GetProperty("cluster").GetProperty("server").GetString().ShouldBe("https://k3s.home.arpa:6443");
        }

        (await config.TokenProvider.GetAuthenticationHeaderAsync(CancellationToken.None)).Parameter.ShouldBe("token-2");
        (await config.TokenProvider.GetAuthenticationHeaderAsync(CancellationToken.None)).Parameter.ShouldBe("token-3");
    }

    [Theory]
    [InlineData("exit 3", "exited with code 3")]
    [InlineData("echo not json", "did not answer an ExecCredential")]
    [InlineData("echo '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"t\"}}'", "not an ExecCredential of client.authentication.k8s.io/v1")]
    [InlineData("echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{}}'", "neither status.token")]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void A_failing_exec_plugin_is_one_line_saying_what_it_did(string body, string expected)
    {
        var plugin = Script("failing", body);
        var path = Kubeconfig($"""
            users:
            - name: me
              user:
                exec: {"{"}apiVersion: client.authentication.k8s.io/v1, command: {plugin}, installHint: "emerge app-misc/credential-plugin"{"}"}
            """);

        var message = Should.Throw<PluginException>(() => Cluster.Configuration(path, context: null)).Message;
        message.ShouldStartWith($"no usable kubeconfig: {path}: user.exec: ");
        message.ShouldContain(expected);
        File.Delete(plugin);
        Should.Throw<PluginException>(() => Cluster.Configuration(path, context: null)).Message.ShouldEndWith("\nemerge app-misc/credential-plugin");
    }

    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private string Script(string name, string body)
    {
        var path = Path.Combine(directory.FullName, name);
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    private string Kubeconfig(string users)
    {
        var path = Path.Combine(directory.FullName, "exec-config");
        File.WriteAllText(path, """
            apiVersion: v1
            kind: Config
            clusters:
            - name: home
              cluster: {server: "https://k3s.home.arpa:6443", insecure-skip-tls-verify: true}
            contexts:
            - name: home
              context: {cluster: home, user: me}
            current-context: home

            """ + users);
        return path;
    }
}

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
        var operatorView = Gentoo.Operator.Hosting.ClusterConnection.LoadConfiguration(new Gentoo.Operator.Hosting.OperatorOptions { Kubeconfig = list, Context = "office" });
        operatorView.Host.ShouldBe("https://10.0.0.1:6443");
        operatorView.SslCaCerts.ShouldHaveSingleItem().Subject.ShouldBe("CN=work-ca");

        // A broken file in the list is named.
        File.WriteAllText(work, "clusters: [unclosed");
        Should.Throw<PluginException>(() => Cluster.Configuration(list, context: null)).Message.ShouldContain($"{work}: not a kubeconfig");
    }
}

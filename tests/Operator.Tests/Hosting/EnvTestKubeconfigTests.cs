using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Gentoo.Connection;
using Gentoo.Kubernetes.TestServer.EnvTest;

namespace Gentoo.Operator.Tests.Hosting;

/// <summary>
/// The kubeconfig an envtest control plane writes for the operator process (bench/OperatorBench on KUBEBUILDER_ASSETS):
/// read as the operator reads its --kubeconfig, it names the server, trusts the control plane's CA and presents the
/// admin client certificate with its key.
/// </summary>
public sealed class EnvTestKubeconfigTests
{
    [Fact]
    public void The_control_planes_kubeconfig_gives_the_operator_its_server_authority_and_client_certificate()
    {
        var now = DateTimeOffset.UtcNow;
        using var caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest("CN=envtest-ca", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var ca = caRequest.CreateSelfSigned(now.AddMinutes(-1), now.AddDays(1));
        using var clientKey = RSA.Create(2048);
        using var client = new CertificateRequest("CN=admin, O=system:masters", clientKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            .Create(ca, now.AddMinutes(-1), now.AddHours(1), [1, 2, 3, 4]);
        var path = Path.Combine(Directory.CreateTempSubdirectory("gentoo-envtest-kubeconfig-").FullName, "config");
        File.WriteAllText(path, ControlPlane.Kubeconfig("https://127.0.0.1:6443", ca.ExportCertificatePem(), client.ExportCertificatePem(), clientKey.ExportRSAPrivateKeyPem()));

        try
        {
            var configuration = KubeconfigFile.Load([path], null, TimeProvider.System);

            configuration.Host.ShouldBe("https://127.0.0.1:6443");
            configuration.SkipTlsVerify.ShouldBeFalse();
            configuration.SslCaCerts.ShouldHaveSingleItem().Thumbprint.ShouldBe(ca.Thumbprint);
            using var presented = X509Certificate2.CreateFromPem(
                Encoding.UTF8.GetString(Convert.FromBase64String(configuration.ClientCertificateData)),
                Encoding.UTF8.GetString(Convert.FromBase64String(configuration.ClientCertificateKeyData)));
            presented.Thumbprint.ShouldBe(client.Thumbprint);
            presented.HasPrivateKey.ShouldBeTrue("the key must come with the certificate for the TLS handshake");
            using var kube = new k8s.Kubernetes(configuration); // where KubernetesClient loads the pair for its handler
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using k8s;

namespace Gentoo.Kubernetes.TestServer.EnvTest;

/// <summary>
/// A real etcd and kube-apiserver from a KUBEBUILDER_ASSETS folder, started the way controller-runtime's envtest
/// starts them: on 127.0.0.1, with a generated CA, serving certificate, admin client certificate and service
/// account keys. There is no scheduler, kubelet or controller manager: no pods run and nothing is garbage collected.
/// </summary>
public sealed class ControlPlane : IAsyncDisposable
{
    private readonly DirectoryInfo workDir;
    private readonly List<Process> processes = [];

    private ControlPlane(DirectoryInfo workDir) => this.workDir = workDir;

    private string kubeconfig = "";

    public KubernetesClientConfiguration ClientConfiguration { get; private set; } = null!;

    public static string? AssetsFolder => Environment.GetEnvironmentVariable("KUBEBUILDER_ASSETS") is { Length: > 0 } folder ? folder : null;

    public static async Task<ControlPlane> StartAsync(string assets, CancellationToken ct = default)
    {
        foreach (var binary in new[] { "etcd", "kube-apiserver" })
        {
            if (!File.Exists(Path.Combine(assets, binary)))
            {
                throw new FileNotFoundException($"KUBEBUILDER_ASSETS={assets} has no {binary}; it must hold etcd and kube-apiserver");
            }
        }

        var plane = new ControlPlane(Directory.CreateTempSubdirectory("gentoo-envtest-"));
        try
        {
            await plane.StartCoreAsync(assets, ct);
            return plane;
        }
        catch
        {
            await plane.DisposeAsync();
            throw;
        }
    }

    private async Task StartCoreAsync(string assets, CancellationToken ct)
    {
        var certs = Path.Combine(workDir.FullName, "certs");
        Directory.CreateDirectory(certs);
        using var caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest("CN=gentoo-envtest-ca", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));

        var (servingCert, servingKey) = Issue(ca, caKey, "CN=127.0.0.1", serverAuth: true);
        var (clientCert, clientKey) = Issue(ca, caKey, "CN=gentoo-envtest-admin, O=system:masters", serverAuth: false);
        using var serviceAccountKey = RSA.Create(2048);

        await File.WriteAllTextAsync(Path.Combine(certs, "ca.crt"), ca.ExportCertificatePem(), ct);
        await File.WriteAllTextAsync(Path.Combine(certs, "apiserver.crt"), servingCert, ct);
        await File.WriteAllTextAsync(Path.Combine(certs, "apiserver.key"), servingKey, ct);
        await File.WriteAllTextAsync(Path.Combine(certs, "sa.key"), serviceAccountKey.ExportRSAPrivateKeyPem(), ct);
        await File.WriteAllTextAsync(Path.Combine(certs, "sa.pub"), serviceAccountKey.ExportSubjectPublicKeyInfoPem(), ct);

        var etcdPort = FreePort();
        var peerPort = FreePort();
        Start(Path.Combine(assets, "etcd"),
            "--data-dir", Path.Combine(workDir.FullName, "etcd"),
            "--listen-client-urls", $"http://127.0.0.1:{etcdPort}",
            "--advertise-client-urls", $"http://127.0.0.1:{etcdPort}",
            "--listen-peer-urls", $"http://127.0.0.1:{peerPort}",
            "--initial-advertise-peer-urls", $"http://127.0.0.1:{peerPort}",
            "--initial-cluster", $"default=http://127.0.0.1:{peerPort}",
            "--unsafe-no-fsync");

        var apiPort = FreePort();
        Start(Path.Combine(assets, "kube-apiserver"),
            "--advertise-address", "127.0.0.1",
            "--bind-address", "127.0.0.1",
            "--secure-port", apiPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--etcd-servers", $"http://127.0.0.1:{etcdPort}",
            "--cert-dir", certs,
            "--tls-cert-file", Path.Combine(certs, "apiserver.crt"),
            "--tls-private-key-file", Path.Combine(certs, "apiserver.key"),
            "--client-ca-file", Path.Combine(certs, "ca.crt"),
            "--service-account-issuer", $"https://127.0.0.1:{apiPort}",
            "--service-account-key-file", Path.Combine(certs, "sa.pub"),
            "--service-account-signing-key-file", Path.Combine(certs, "sa.key"),
            "--service-cluster-ip-range", "10.0.0.0/24",
            "--authorization-mode", "RBAC",
            "--disable-admission-plugins", "ServiceAccount",
            "--allow-privileged=true");

        kubeconfig = Kubeconfig($"https://127.0.0.1:{apiPort}", ca.ExportCertificatePem(), clientCert, clientKey);
        ClientConfiguration = new KubernetesClientConfiguration
        {
            Host = $"https://127.0.0.1:{apiPort}",
            SslCaCerts = [X509Certificate2.CreateFromPem(ca.ExportCertificatePem())],
            ClientCertificateData = Convert.ToBase64String(Encoding.UTF8.GetBytes(clientCert)),
            ClientCertificateKeyData = Convert.ToBase64String(Encoding.UTF8.GetBytes(clientKey)),
        };
        await WaitReadyAsync(ct);
    }

    /// <summary>
    /// A kubeconfig file for another process (the operator as shipped): the control plane's address, certificate
    /// authority and admin client certificate; it lives in the control plane's folder and goes with it.
    /// </summary>
    public string WriteKubeconfig()
    {
        var path = Path.Combine(workDir.FullName, "kubeconfig");
        File.WriteAllText(path, kubeconfig);
        return path;
    }

    /// <summary>A kubeconfig of one cluster and user: the server, its certificate authority, a client certificate and key (PEM).</summary>
    public static string Kubeconfig(string server, string certificateAuthorityPem, string clientCertificatePem, string clientKeyPem) => $"""
        apiVersion: v1
        kind: Config
        clusters:
        - name: envtest
          cluster:
            server: {server}
            certificate-authority-data: {Base64(certificateAuthorityPem)}
        contexts:
        - name: envtest
          context: {"{"}cluster: envtest, user: admin{"}"}
        current-context: envtest
        users:
        - name: admin
          user:
            client-certificate-data: {Base64(clientCertificatePem)}
            client-key-data: {Base64(clientKeyPem)}
        """;

    private static string Base64(string pem) => Convert.ToBase64String(Encoding.UTF8.GetBytes(pem));

    private async Task WaitReadyAsync(CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        using var kube = new k8s.Kubernetes(ClientConfiguration);
        while (true)
        {
            var exited = processes.FirstOrDefault(p => p.HasExited);
            if (exited is not null)
            {
                throw new InvalidOperationException($"{exited.StartInfo.FileName} exited with {exited.ExitCode}; see {workDir.FullName}");
            }

            try
            {
                // The default namespace appears once the API server's own bootstrap controllers ran.
                await kube.CoreV1.ReadNamespaceAsync("default", cancellationToken: ct);
                return;
            }
            catch (Exception e) when (e is HttpRequestException or k8s.Autorest.HttpOperationException && DateTime.UtcNow < deadline)
            {
                await Task.Delay(250, ct);
            }
        }
    }

    private static (string CertificatePem, string KeyPem) Issue(X509Certificate2 ca, RSA caKey, string subject, bool serverAuth)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid(serverAuth ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
        if (serverAuth)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            names.AddDnsName("localhost");
            request.CertificateExtensions.Add(names.Build());
        }

        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        using var certificate = request.Create(ca.SubjectName, X509SignatureGenerator.CreateForRSA(caKey, RSASignaturePadding.Pkcs1),
            DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1), serial);
        return (certificate.ExportCertificatePem(), key.ExportRSAPrivateKeyPem());
    }

    private void Start(string binary, params string[] args)
    {
        var start = new ProcessStartInfo(binary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {binary}");
        var log = Path.Combine(workDir.FullName, Path.GetFileName(binary) + ".log");
        _ = CopyToFileAsync(process.StandardOutput.BaseStream, log + ".out");
        _ = CopyToFileAsync(process.StandardError.BaseStream, log);
        processes.Add(process);
    }

    private static async Task CopyToFileAsync(Stream output, string path)
    {
        await using var file = File.Create(path);
        await output.CopyToAsync(file);
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in Enumerable.Reverse(processes))
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }

            process.Dispose();
        }

        try
        {
            workDir.Delete(recursive: true);
        }
        catch (IOException)
        {
            // A log file still open by a dying process; the temp folder is cleaned by the system.
        }
    }
}

using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Gentoo.ApiServer;

/// <summary>
/// What a client needs to trust the embedded server and what the server needs to know the client: a certificate
/// authority, a serving certificate it signed for 127.0.0.1 and localhost, and a bearer token. Kept in the state directory,
/// readable by its owner only, and made once: a restarted server keeps the kubeconfig users already have working.
/// </summary>
public sealed record ServingCredentials(X509Certificate2 Authority, X509Certificate2 Server, string Token)
{
    private const string AuthorityFile = "ca.crt";
    private const string ServerFile = "server.pfx";
    private const string TokenFile = "token";
    private static readonly TimeSpan Lifetime = TimeSpan.FromDays(3650);

    /// <summary>Reads the credentials in <paramref name="directory"/>, making the missing ones.</summary>
    public static ServingCredentials LoadOrCreate(string directory, TimeProvider clock)
    {
        Directory.CreateDirectory(directory);
        var authorityPath = Path.Combine(directory, AuthorityFile);
        var serverPath = Path.Combine(directory, ServerFile);
        var tokenPath = Path.Combine(directory, TokenFile);
        if (!File.Exists(authorityPath) || !File.Exists(serverPath))
        {
            var (authority, server) = Create(clock.GetUtcNow());
            WritePrivate(serverPath, server.Export(X509ContentType.Pkcs12));
            WritePrivate(authorityPath, System.Text.Encoding.ASCII.GetBytes(authority.ExportCertificatePem()));
        }

        if (!File.Exists(tokenPath))
        {
            WritePrivate(tokenPath, System.Text.Encoding.ASCII.GetBytes(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32))));
        }

        return new ServingCredentials(
            X509CertificateLoader.LoadCertificate(File.ReadAllBytes(authorityPath)),
            X509CertificateLoader.LoadPkcs12FromFile(serverPath, null),
            File.ReadAllText(tokenPath).Trim());
    }

    /// <summary>Writes a file only its owner can read, from the first byte on (never world-readable for a moment).</summary>
    public static void WritePrivate(string path, ReadOnlySpan<byte> content)
    {
        var temporary = path + ".tmp";
        File.Delete(temporary);
        var fileOptions = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(temporary, fileOptions))
        {
            stream.Write(content);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
    }

    private static (X509Certificate2 Authority, X509Certificate2 Server) Create(DateTimeOffset now)
    {
        using var authorityKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var authorityRequest = new CertificateRequest("CN=gentoo-builder local CA", authorityKey, HashAlgorithmName.SHA256);
        authorityRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        authorityRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        authorityRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(authorityRequest.PublicKey, false));
        using var authority = authorityRequest.CreateSelfSigned(now.AddMinutes(-5), now.Add(Lifetime));

        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var serverRequest = new CertificateRequest("CN=gentoo-builder local API server", serverKey, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddIpAddress(IPAddress.IPv6Loopback);
        names.AddDnsName("localhost");
        serverRequest.CertificateExtensions.Add(names.Build());
        serverRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        serverRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        serverRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        serverRequest.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, true, false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        using var signed = serverRequest.Create(authority, now.AddMinutes(-5), now.Add(Lifetime - TimeSpan.FromDays(1)), serial);
        var server = signed.CopyWithPrivateKey(serverKey);
        return (X509CertificateLoader.LoadCertificate(authority.RawData), server);
    }
}

using System.Buffers;
using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using k8s.Authentication;
using k8s.Exceptions;
using k8s.KubeConfigModels;

namespace Gentoo.Connection;

/// <summary>What a credential plugin answered: a bearer token, or a client certificate and key (PEM), and until when.</summary>
public sealed record ExecCredential(string? Token, string? ClientCertificateData, string? ClientKeyData, DateTimeOffset? Expires);

/// <summary>
/// A kubeconfig user's exec credential plugin (aws eks get-token, gke-gcloud-auth-plugin, kubelogin, tsh), run as
/// client-go runs one: its arguments as given, its env on top of ours, KUBERNETES_EXEC_INFO describing the request (and
/// the cluster, with provideClusterInfo), our stdin and stderr so that it can ask and tell the person, and its stdout read
/// as an ExecCredential of the apiVersion asked for. A token is asked for again once it expires. Ours rather than
/// KubernetesClient's, which joins arguments with spaces, fails on anything written to stderr, and serialises by
/// reflection (the plugin, compiled ahead of time, has none).
/// </summary>
public sealed class ExecCredentialPlugin(ExternalExecution exec, ClusterEndpoint? cluster, TimeProvider clock) : ITokenProvider
{
    private readonly Lock running = new();
    private ExecCredential? current;

    /// <summary>Runs the plugin now and keeps its answer.</summary>
    /// <exception cref="KubeConfigException">The plugin cannot be run, fails, or answers something that is not a credential.</exception>
    public ExecCredential Run()
    {
        if (string.IsNullOrWhiteSpace(exec.Command) || string.IsNullOrWhiteSpace(exec.ApiVersion))
        {
            throw new KubeConfigException("user.exec needs a command and an apiVersion (client.authentication.k8s.io/v1 or v1beta1)");
        }

        var start = new ProcessStartInfo(exec.Command) { RedirectStandardOutput = true, UseShellExecute = false, StandardOutputEncoding = Encoding.UTF8 };
        foreach (var argument in exec.Arguments ?? [])
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var variable in exec.EnvironmentVariables ?? [])
        {
            if (!variable.TryGetValue("name", out var name) || string.IsNullOrEmpty(name) || !variable.TryGetValue("value", out var value))
            {
                throw new KubeConfigException($"user.exec.env: each entry needs a name and a value, not {string.Join(", ", variable.Select(v => $"{v.Key}={v.Value}"))}");
            }

            start.Environment[name] = value;
        }

        start.Environment["KUBERNETES_EXEC_INFO"] = ExecInfo(interactive: !Console.IsInputRedirected);
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new KubeConfigException($"user.exec: {exec.Command} did not start");
        }
        catch (Win32Exception e)
        {
            throw new KubeConfigException($"user.exec: cannot run {exec.Command}: {e.Message}{(string.IsNullOrWhiteSpace(exec.InstallHint) ? "" : "\n" + exec.InstallHint.Trim())}");
        }

        using (process)
        {
            var output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                throw new KubeConfigException($"user.exec: {exec.Command} exited with code {process.ExitCode}");
            }

            current = Parse(output);
            return current;
        }
    }

    // Requests that find the token expired wait for one run of the plugin (it may be asking the person something).
    public Task<AuthenticationHeaderValue> GetAuthenticationHeaderAsync(CancellationToken cancellationToken)
    {
        lock (running)
        {
            if (current is not { Token: not null } credential || credential.Expires <= clock.GetUtcNow())
            {
                credential = Run();
            }

            return Task.FromResult(new AuthenticationHeaderValue("Bearer",
                credential.Token ?? throw new KubeConfigException($"user.exec: {exec.Command} answered a client certificate, no token")));
        }
    }

    // The ExecCredential request client-go hands its plugins (k8s.io/client-go/pkg/apis/clientauthentication).
    private string ExecInfo(bool interactive)
    {
        var text = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(text))
        {
            json.WriteStartObject();
            json.WriteString("apiVersion", exec.ApiVersion);
            json.WriteString("kind", "ExecCredential");
            json.WriteStartObject("spec");
            json.WriteBoolean("interactive", interactive);
            if (exec.ProvideClusterInfo && cluster is not null)
            {
                json.WriteStartObject("cluster");
                json.WriteString("server", cluster.Server);
                if (!string.IsNullOrEmpty(cluster.TlsServerName))
                {
                    json.WriteString("tls-server-name", cluster.TlsServerName);
                }

                if (cluster.SkipTlsVerify)
                {
                    json.WriteBoolean("insecure-skip-tls-verify", true);
                }

                if (AuthorityData() is { } authority)
                {
                    json.WriteString("certificate-authority-data", authority);
                }

                json.WriteEndObject();
            }

            json.WriteEndObject();
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(text.WrittenSpan);
    }

    // Base64 of the authority's PEM, from the kubeconfig or from the file it names (made absolute when the kubeconfig was read).
    private string? AuthorityData() =>
        !string.IsNullOrEmpty(cluster?.CertificateAuthorityData) ? cluster.CertificateAuthorityData
        : !string.IsNullOrEmpty(cluster?.CertificateAuthority) && File.Exists(cluster.CertificateAuthority) ? Convert.ToBase64String(File.ReadAllBytes(cluster.CertificateAuthority))
        : null;

    private ExecCredential Parse(string output)
    {
        try
        {
            using var document = JsonDocument.Parse(output);
            var root = document.RootElement;
            if (Text(root, "kind") != "ExecCredential" || Text(root, "apiVersion") != exec.ApiVersion)
            {
                throw new KubeConfigException($"user.exec: {exec.Command} answered kind {Text(root, "kind") ?? "none"} of {Text(root, "apiVersion") ?? "no apiVersion"}, not an ExecCredential of {exec.ApiVersion}");
            }

            var status = root.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.Object ? s : default;
            var credential = new ExecCredential(
                Text(status, "token"),
                Text(status, "clientCertificateData"),
                Text(status, "clientKeyData"),
                Text(status, "expirationTimestamp") is { } expires ? DateTimeOffset.Parse(expires, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal) : null);
            return credential.Token is not null || (credential.ClientCertificateData is not null && credential.ClientKeyData is not null)
                ? credential
                : throw new KubeConfigException($"user.exec: {exec.Command} answered neither status.token nor status.clientCertificateData and clientKeyData");
        }
        catch (Exception e) when (e is JsonException or FormatException)
        {
            throw new KubeConfigException($"user.exec: {exec.Command} did not answer an ExecCredential: {e.Message}");
        }
    }

    private static string? Text(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}

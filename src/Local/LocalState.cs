using System.Diagnostics;
using System.Globalization;
using System.Text;
using Gentoo.ApiServer;

namespace Gentoo.Local;

/// <summary>
/// Where local mode keeps what must survive it: the API server's objects, its credentials, the kubeconfig users point
/// kubectl at, the kubelet's pod files, and the lock that keeps two instances off one state directory.
/// </summary>
public sealed record LocalState(string Root)
{
    public const string ContextName = "gentoo-builder-local";

    public string Api => Path.Combine(Root, "api");

    public string Pki => Path.Combine(Root, "pki");

    public string Kubelet => Path.Combine(Root, "kubelet");

    public string Kubeconfig => Path.Combine(Root, "kubeconfig");

    private string LockFile => Path.Combine(Root, "local.lock");

    /// <summary>Beside the lock, not in it: on Unix .NET holds the lock with flock, which refuses every other open of the file.</summary>
    private string PidFile => Path.Combine(Root, "local.pid");

    /// <summary>$XDG_DATA_HOME/gentoo-builder, else ~/.local/share/gentoo-builder.</summary>
    public static LocalState Default()
    {
        var data = Environment.GetEnvironmentVariable("XDG_DATA_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share");
        return new LocalState(Path.Combine(data, "gentoo-builder"));
    }

    /// <summary>Holds the state directory for this process; a second instance is refused, naming the first one's pid.</summary>
    public IDisposable Lock()
    {
        // The objects include Secrets and the kubeconfig a token: the whole directory is its owner's alone.
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(Root);
        }
        else
        {
            Directory.CreateDirectory(Root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            File.SetUnixFileMode(Root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        FileStream stream;
        try
        {
            // FileShare.None is an exclusive advisory lock on Unix: it goes with the process, even when it is killed.
            stream = new FileStream(LockFile, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            throw new LocalModeException($"local mode already runs from {Root} (pid {RunningPid()?.ToString(CultureInfo.InvariantCulture) ?? "unknown"}): "
                + "use that one, or stop it with `gentoo-operator local down`");
        }

        File.WriteAllText(PidFile, Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
        return stream;
    }

    /// <summary>The pid of the instance holding the state directory, or null when none does.</summary>
    public int? RunningPid()
    {
        if (!File.Exists(LockFile))
        {
            return null;
        }

        try
        {
            using var probe = new FileStream(LockFile, FileMode.Open, FileAccess.Read, FileShare.None);
            return null;
        }
        catch (IOException)
        {
            // Held: the holder wrote its pid beside it (0 when it has not yet).
            var text = File.Exists(PidFile) ? File.ReadAllText(PidFile).Trim() : "";
            return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : 0;
        }
    }

    /// <summary>Asks the running instance to stop (SIGTERM, as a service manager would) and waits until it released the directory.</summary>
    public async Task<bool> StopAsync(TimeSpan timeout, CancellationToken ct)
    {
        if (RunningPid() is not { } pid)
        {
            return false;
        }

        if (pid == 0)
        {
            throw new LocalModeException($"local mode runs from {Root} but has not written its pid yet: try again in a moment");
        }

        using (var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", pid.ToString(CultureInfo.InvariantCulture)]) { RedirectStandardError = true })!)
        {
            await kill.WaitForExitAsync(ct);
        }

        var deadline = DateTime.UtcNow + timeout;
        while (RunningPid() is not null)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new LocalModeException($"local mode (pid {pid}) did not stop within {timeout.TotalSeconds:0} s");
            }

            await Task.Delay(200, ct);
        }

        return true;
    }

    /// <summary>A kubeconfig for the embedded server, readable by its owner only (it holds the token).</summary>
    public void WriteKubeconfig(Uri server, ServingCredentials credentials)
    {
        var authority = Convert.ToBase64String(Encoding.ASCII.GetBytes(credentials.Authority.ExportCertificatePem()));
        var text = $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: {ContextName}
              cluster:
                server: {server.ToString().TrimEnd('/')}
                certificate-authority-data: {authority}
            users:
            - name: {ContextName}
              user:
                token: {credentials.Token}
            contexts:
            - name: {ContextName}
              context:
                cluster: {ContextName}
                user: {ContextName}
                namespace: default
            current-context: {ContextName}

            """;
        ServingCredentials.WritePrivate(Kubeconfig, Encoding.UTF8.GetBytes(text));
    }
}

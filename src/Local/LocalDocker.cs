using Docker.DotNet;

namespace Gentoo.Local;

/// <summary>The connection to this machine's Docker engine.</summary>
public static class LocalDocker
{
    public static readonly Uri DefaultEndpoint = new("unix:///var/run/docker.sock");

    /// <summary>
    /// Connects and speaks the engine's own API version (an older daemon refuses a newer client's), or says what is
    /// wrong: no daemon, or no right to its socket.
    /// </summary>
    public static async Task<IDockerClient> ConnectAsync(Uri? endpoint, CancellationToken ct)
    {
        endpoint ??= Environment.GetEnvironmentVariable("DOCKER_HOST") is { Length: > 0 } host ? new Uri(host) : DefaultEndpoint;
        var probe = new DockerClientBuilder().WithEndpoint(endpoint).Build();
        Docker.DotNet.Models.VersionResponse version;
        try
        {
            version = await probe.System.GetVersionAsync(ct);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or System.Net.Sockets.SocketException or UnauthorizedAccessException or DockerApiException or TimeoutException)
        {
            probe.Dispose();
            throw new LocalModeException(
                $"no Docker engine answers at {endpoint} ({e.Message}); install and start it (Debian: apt-get install docker.io; systemctl start docker), "
                + "and run as root or as a member of the docker group");
        }

        probe.Dispose();
        return new DockerClientBuilder().WithEndpoint(endpoint).WithApiVersion(Version.Parse(version.APIVersion)).Build();
    }
}

/// <summary>Local mode cannot start: the message says why and what to do.</summary>
public sealed class LocalModeException(string message) : Exception(message);

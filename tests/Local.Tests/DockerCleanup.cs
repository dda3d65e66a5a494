using Docker.DotNet;
using Docker.DotNet.Models;

namespace Gentoo.Local.Tests;

/// <summary>What a test made in the shared Docker engine, found by its namespace label and removed.</summary>
internal static class DockerCleanup
{
    /// <param name="docker">The engine.</param>
    /// <param name="ns">The test's namespace.</param>
    /// <param name="node">The test's Node, where the namespace is a shared one (local mode's default).</param>
    public static async Task RemoveNamespaceAsync(IDockerClient docker, string ns, string? node = null)
    {
        var labels = new Dictionary<string, bool> { [LocalNames.NamespaceLabel + "=" + ns] = true };
        if (node is not null)
        {
            labels[LocalNames.NodeLabel + "=" + node] = true;
        }

        var ours = new Dictionary<string, IDictionary<string, bool>> { ["label"] = labels };
        foreach (var container in await docker.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = ours }))
        {
            try
            {
                await docker.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true });
            }
            catch (DockerContainerNotFoundException)
            {
                // A removal the stopped kubelet had asked for finished meanwhile (the engine goes on when its client stops waiting).
            }
            catch (DockerApiException e) when (e.StatusCode == System.Net.HttpStatusCode.Conflict && e.ResponseBody?.Contains("already in progress", StringComparison.Ordinal) == true)
            {
                // Or is still under way: the engine finishes it; the volumes below wait for it to let go of them.
            }
        }

        foreach (var volume in (await docker.Volumes.ListAsync(new VolumesListParameters { Filters = ours })).Volumes ?? [])
        {
            // Such a container may still hold the volume for a moment.
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await docker.Volumes.RemoveAsync(volume.Name, force: true);
                    break;
                }
                catch (DockerApiException e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
                {
                    break;
                }
                catch (DockerApiException e) when (e.StatusCode == System.Net.HttpStatusCode.Conflict && attempt < 50)
                {
                    await Task.Delay(200);
                }
            }
        }
    }
}

/// <summary>Ports for servers a test starts on this machine.</summary>
internal static class FreePorts
{
    public static int Next()
    {
        using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        return ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
    }
}

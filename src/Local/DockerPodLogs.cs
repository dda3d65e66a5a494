using System.Text.Json.Nodes;
using Docker.DotNet;
using Docker.DotNet.Models;
using Gentoo.ApiServer;
using Gentoo.ApiServer.Api;
using k8s;
using k8s.Models;

namespace Gentoo.Local;

/// <summary>pods/NAME/log from the container's log in the Docker engine, followed while the container runs, as a kubelet serves it.</summary>
public sealed class DockerPodLogs(IDockerClient docker) : IPodLogSource
{
    public async Task CopyAsync(JsonObject pod, string container, bool follow, Stream output, CancellationToken ct)
    {
        var (typed, name) = LocalNames.Container(pod, container);
        ContainerInspectResponse inspected;
        try
        {
            inspected = await docker.Containers.InspectContainerAsync(name, ct);
        }
        catch (DockerContainerNotFoundException)
        {
            throw ApiException.BadRequest($"container \"{container}\" in pod \"{typed.Metadata.Name}\" is waiting to start: ContainerCreating");
        }

        using var log = await docker.Containers.GetContainerLogsAsync(inspected.ID,
            new ContainerLogsParameters { ShowStdout = true, ShowStderr = true, Follow = follow }, ct);
        await log.CopyOutputToAsync(Stream.Null, output, output, ct);
    }
}

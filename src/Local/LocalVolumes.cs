using Docker.DotNet;
using Docker.DotNet.Models;

namespace Gentoo.Local;

/// <summary>Looking at Docker volumes the way local mode must: a missing one is an answer, and only this machine's are ours.</summary>
public static class LocalVolumes
{
    /// <summary>The volume, or null when the engine has none of that name.</summary>
    public static async Task<VolumeResponse?> InspectOrNullAsync(IDockerClient docker, string volume, CancellationToken ct)
    {
        try
        {
            return await docker.Volumes.InspectAsync(volume, ct);
        }
        catch (DockerApiException e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>Whether the volume was made by the local instance whose Node is <paramref name="nodeName"/>: another's is never touched.</summary>
    public static bool IsOf(VolumeResponse? volume, string nodeName) =>
        volume?.Labels is { } labels && labels.TryGetValue(LocalNames.NodeLabel, out var node) && node == nodeName;
}

using System.Net;
using k8s;
using k8s.Autorest;

namespace Gentoo.Runtime;

/// <summary>Which optional APIs the cluster serves (snapshot.storage.k8s.io is an add-on many clusters lack).</summary>
public static class ApiDiscovery
{
    public const string SnapshotGroup = "snapshot.storage.k8s.io";

    public static async Task<bool> ServesAsync(IKubernetes kube, string group, string version, CancellationToken ct)
    {
        try
        {
            var groups = await kube.Apis.GetAPIVersionsAsync(ct);
            return groups.Groups?.Any(g => g.Name == group && g.Versions.Any(v => v.Version == version)) == true;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }
}

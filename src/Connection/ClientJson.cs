using k8s;

namespace Gentoo.Connection;

/// <summary>KubernetesClient's JSON, set up once per process before the first request.</summary>
public static class ClientJson
{
    /// <summary>
    /// Locks KubernetesClient's serializer options. The client asks them for each type's metadata and never locks
    /// them, and options open to change answer with metadata built anew (reflection, emitted accessors) on every call:
    /// every request and every watch event paid it. Locked, the metadata is built once per type and kept.
    /// </summary>
    public static void Lock() => KubernetesJson.AddJsonOptions(options => options.MakeReadOnly());
}

using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Storage;
using Gentoo.Runtime;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Hosting;

/// <summary>
/// The contracts KubernetesClient has none of, generated at compile time: the operator's lists and watch events of
/// its kinds and of the core kinds it watches (KubernetesClient generates contracts for its models, not for generic
/// wrappers around other types), and VolumeSnapshots. With these and <see cref="EntityJson"/> the operator never
/// builds JSON metadata by reflection, which its natively compiled executable could not do.
/// The options match KubernetesClient's (camelCase, nulls left out, enums as names); its converters still apply.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true)]
[JsonSerializable(typeof(ResourceList<GentooBootstrap>))]
[JsonSerializable(typeof(ResourceList<GentooBuilder>))]
[JsonSerializable(typeof(ResourceList<BuildRun>))]
[JsonSerializable(typeof(ResourceList<VolumeSnapshot>))]
[JsonSerializable(typeof(ResourceList<VolumeSnapshotClass>))]
[JsonSerializable(typeof(Watcher<KubernetesObject>.WatchEvent))]
[JsonSerializable(typeof(Watcher<V1Status>.WatchEvent))]
[JsonSerializable(typeof(Watcher<GentooBootstrap>.WatchEvent))]
[JsonSerializable(typeof(Watcher<GentooBuilder>.WatchEvent))]
[JsonSerializable(typeof(Watcher<BuildRun>.WatchEvent))]
[JsonSerializable(typeof(Watcher<V1Pod>.WatchEvent))]
[JsonSerializable(typeof(Watcher<V1PersistentVolumeClaim>.WatchEvent))]
[JsonSerializable(typeof(Watcher<V1Node>.WatchEvent))]
public sealed partial class OperatorJson : JsonSerializerContext
{
    /// <summary>Every contract the operator's processes (operator, binhost, local mode) read and write objects with.</summary>
    public static IJsonTypeInfoResolver[] Contracts => [EntityJson.Default, Default];
}

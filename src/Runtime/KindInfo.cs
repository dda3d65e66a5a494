using System.Reflection;
using k8s;
using k8s.Models;

namespace Gentoo.Runtime;

/// <summary>Where a kind lives in the API: group, version, plural, as its [KubernetesEntity] attribute says.</summary>
public sealed record KindInfo(string Group, string Version, string Plural, string Kind)
{
    public string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";

    /// <summary>The kind's collection, relative to the API server's base URI: in <paramref name="ns"/>, or in all namespaces when null.</summary>
    public string CollectionPath(string? ns) =>
        (Group.Length == 0 ? $"api/{Version}/" : $"apis/{Group}/{Version}/") + (ns is null ? "" : $"namespaces/{Uri.EscapeDataString(ns)}/") + Plural;

    /// <summary>One object of the kind, relative to the API server's base URI.</summary>
    public string ObjectPath(string? ns, string name) => $"{CollectionPath(ns)}/{Uri.EscapeDataString(name)}";

    /// <summary>A short name for logs and metrics: "BuildRun", "Pod".</summary>
    public override string ToString() => Kind;

    public static KindInfo Of<T>() => Of(typeof(T));

    public static KindInfo Of(Type type)
    {
        var entity = type.GetCustomAttribute<KubernetesEntityAttribute>()
            ?? throw new InvalidOperationException($"{type.Name} has no [KubernetesEntity] attribute");
        return new KindInfo(entity.Group ?? "", entity.ApiVersion, entity.PluralName, entity.Kind);
    }
}

/// <summary>namespace/name, the identity of a namespaced object (name alone for cluster-scoped ones).</summary>
public readonly record struct ObjectKey(string Namespace, string Name)
{
    public static ObjectKey Of(IKubernetesObject<V1ObjectMeta> obj) => new(obj.Metadata.NamespaceProperty ?? "", obj.Metadata.Name);

    public override string ToString() => Namespace.Length == 0 ? Name : $"{Namespace}/{Name}";
}

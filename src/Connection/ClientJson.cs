using System.Text.Json.Serialization.Metadata;
using k8s;

namespace Gentoo.Connection;

/// <summary>KubernetesClient's JSON, set up once per process before the first request.</summary>
public static class ClientJson
{
    /// <summary>
    /// Puts <paramref name="generated"/> (contracts generated at compile time) ahead of the client's own resolvers, then
    /// locks its serializer options. The client asks them for each type's metadata and never locks them, and options
    /// open to change answer with metadata built anew (reflection, emitted accessors) on every call: every request and
    /// every watch event paid it. Locked, the metadata is built once per type and kept.
    /// </summary>
    /// <exception cref="InvalidOperationException">The options were locked before without one of <paramref name="generated"/>.</exception>
    public static void Lock(params IJsonTypeInfoResolver[] generated) => KubernetesJson.AddJsonOptions(options =>
    {
        var missing = generated.Where(resolver => !options.TypeInfoResolverChain.Contains(resolver)).ToList();
        if (options.IsReadOnly)
        {
            // Another entry point of the same process locked them first: harmless when it put the same contracts in.
            if (missing.Count > 0)
            {
                throw new InvalidOperationException($"KubernetesClient's JSON options were locked without {string.Join(", ", missing)}");
            }

            return;
        }

        for (var i = missing.Count - 1; i >= 0; i--)
        {
            options.TypeInfoResolverChain.Insert(0, missing[i]);
        }

        options.MakeReadOnly();
    });
}

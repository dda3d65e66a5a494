using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using k8s;

namespace Gentoo.Connection;

/// <summary>KubernetesClient's JSON, set up once per process before the first request.</summary>
public static class ClientJson
{
    /// <summary>
    /// Puts <paramref name="generated"/> (contracts generated at compile time) and <see cref="ClientModelJson"/> in place of
    /// the client's own contracts for all of its models and of its reflection fallback, then locks its serializer
    /// options. The client asks them for each type's metadata and never locks them, and options open to change answer
    /// with metadata built anew on every call: every request and every watch event paid it. Locked, the metadata is
    /// built once per type and kept. Without the client's contracts and fallback, a type nobody generated a contract for
    /// fails the same way everywhere, at its first use in a test, instead of only in the natively compiled executables
    /// (which have neither).
    /// </summary>
    /// <exception cref="InvalidOperationException">The options were locked before without one of <paramref name="generated"/>.</exception>
    public static void Lock(params IJsonTypeInfoResolver[] generated) => KubernetesJson.AddJsonOptions(options =>
    {
        IJsonTypeInfoResolver[] contracts = [.. generated, ClientModelJson.Default, UntypedJson.Default];
        var missing = contracts.Where(resolver => !options.TypeInfoResolverChain.Contains(resolver)).ToList();
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

        // The client's reflection, and its contracts for every model (natively compiled executables have none: see
        // KubernetesClient.Substitutions.xml), go in every process alike.
        foreach (var theClients in options.TypeInfoResolverChain.Where(r => r is DefaultJsonTypeInfoResolver or SourceGenerationContext).ToList())
        {
            options.TypeInfoResolverChain.Remove(theClients);
        }

        options.MakeReadOnly();
    });
}

/// <summary>Untyped bodies (a list read as a JsonElement, a patch built as a JsonObject): contracts of their own, as any type.</summary>
[JsonSerializable(typeof(JsonElement))]
[JsonSerializable(typeof(JsonDocument))]
[JsonSerializable(typeof(JsonNode))]
[JsonSerializable(typeof(JsonObject))]
[JsonSerializable(typeof(JsonArray))]
internal sealed partial class UntypedJson : JsonSerializerContext;

using System.Text.Json.Serialization;

namespace Gentoo.Entities.V1Alpha1;

/// <summary>
/// The three kinds' JSON contracts, generated at compile time. Inserted ahead of KubernetesClient's reflection
/// resolver, they spare every process the reflection, emitted accessors and JIT work of building them at run time
/// (bench/PluginBench, bench/OperatorBench: part of each <c>kubectl gentoo</c> command's start, and of the operator's
/// CPU in its first burst of work).
/// The options match KubernetesClient's (camelCase, nulls left out, enums as names); its converters still apply.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true)]
[JsonSerializable(typeof(GentooBootstrap))]
[JsonSerializable(typeof(GentooBuilder))]
[JsonSerializable(typeof(BuildRun))]
public sealed partial class EntityJson : JsonSerializerContext;

namespace Gentoo.Entities.Schema;

/// <summary>
/// A CEL rule (<c>x-kubernetes-validations</c>) the API server checks on the annotated type or property.
/// Only features of Kubernetes 1.26 may be used: a rule and a fixed message, no messageExpression.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Property, AllowMultiple = true)]
public sealed class CelRuleAttribute(string rule, string message) : Attribute
{
    public string Rule { get; } = rule;

    public string Message { get; } = message;
}

/// <summary>
/// The value may be set on create but never changed afterwards (a CEL transition rule <c>self == oldSelf</c>).
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class ImmutableAttribute : Attribute;

/// <summary>The API server applies this default when the field is absent. Values are JSON text.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class DefaultJsonAttribute(string json) : Attribute
{
    public string Json { get; } = json;
}

/// <summary>A list whose items are objects identified by the given keys (<c>x-kubernetes-list-type: map</c>).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class ListMapAttribute(params string[] keys) : Attribute
{
    public IReadOnlyList<string> Keys { get; } = keys;
}

/// <summary>A list of unique scalars (<c>x-kubernetes-list-type: set</c>).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class ListSetAttribute : Attribute;

/// <summary>Bounds on the length of each string item of a list or each value of a map.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class ItemSizeAttribute(int min = 0, int max = int.MaxValue) : Attribute
{
    public int Min { get; } = min;

    public int Max { get; } = max;
}

/// <summary>A regular expression (RE2 subset, as the API server evaluates it) each string item must match.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class ItemPatternAttribute(string pattern) : Attribute
{
    public string Pattern { get; } = pattern;
}

/// <summary>An additional printer column shown by <c>kubectl get</c>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
public sealed class PrinterColumnAttribute(string name, string type, string jsonPath, string description) : Attribute
{
    public string Name { get; } = name;

    public string Type { get; } = type;

    public string JsonPath { get; } = jsonPath;

    public string Description { get; } = description;

    /// <summary>0 shows the column always, higher values only with <c>-o wide</c>.</summary>
    public int Priority { get; init; }
}

/// <summary>Short names and categories of the resource (<c>kubectl get gentoo</c>).</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class ResourceNamesAttribute(string[] shortNames, string[] categories) : Attribute
{
    public IReadOnlyList<string> ShortNames { get; } = shortNames;

    public IReadOnlyList<string> Categories { get; } = categories;
}

/// <summary>
/// Bounds on a string's length, a list's items or a map's entries (minLength/maxLength, minItems/maxItems,
/// minProperties/maxProperties by the property's schema type). Ours rather than DataAnnotations' Length: that one asks
/// for reflection over a Count property (it validates objects), which the plugin, compiled ahead of time, may not have.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class SizeAttribute(int min, int max) : Attribute
{
    public int Min { get; } = min;

    public int Max { get; } = max;
}

/// <summary>An upper bound alone (<see cref="SizeAttribute"/> with no lower one).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class MaxSizeAttribute(int max) : Attribute
{
    public int Max { get; } = max;
}

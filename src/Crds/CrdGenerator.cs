using System.Collections;
using System.ComponentModel.DataAnnotations;
using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Gentoo.Entities.Schema;
using Gentoo.Entities.V1Alpha1;
using k8s;
using k8s.Models;

namespace Gentoo.Crds;

/// <summary>
/// Builds CustomResourceDefinitions from the entity types: a structural OpenAPI v3 schema whose descriptions
/// come from the XML docs, whose constraints come from attributes, and whose cross-field rules are CEL.
/// </summary>
[UnconditionalSuppressMessage("Trimming", "IL2070", Justification =
    "Reads the API types' properties by reflection; the natively compiled operator refuses generate-crds (GenerateCrdsCommand), and nothing else generates.")]
public sealed class CrdGenerator(XmlDocumentation docs)
{
    public static IReadOnlyList<Type> EntityTypes { get; } = [typeof(GentooBootstrap), typeof(GentooBuilder), typeof(BuildRun)];

    /// <summary>
    /// Fields of Kubernetes' own types that the API marks required but KubernetesClient's models do not say so;
    /// list-map keys must be required for the API server to accept the schema.
    /// </summary>
    private static readonly Dictionary<Type, string[]> KubernetesRequired = new()
    {
        [typeof(V1Condition)] = ["type", "status", "lastTransitionTime", "reason", "message"],
    };

    // The pattern the API server uses for resource.Quantity.
    private const string QuantityPattern =
        "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$";

    public static CrdGenerator FromAssemblies() =>
        new(XmlDocumentation.For(typeof(GentooBuilder).Assembly, typeof(V1Pod).Assembly));

    /// <summary>The file name under config/crd, as kubebuilder names it: GROUP_PLURAL.yaml.</summary>
    public static string FileName(Type entityType)
    {
        var entity = EntityAttribute(entityType);
        return $"{entity.Group}_{entity.PluralName}.yaml";
    }

    private static string SchemaDigest(JsonObject spec) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(spec.ToJsonString())))[..16];

    public JsonObject Generate(Type entityType)
    {
        var entity = EntityAttribute(entityType);
        var names = entityType.GetCustomAttribute<ResourceNamesAttribute>();
        var namesNode = new JsonObject
        {
            ["kind"] = entity.Kind,
            ["listKind"] = entity.Kind + "List",
            ["plural"] = entity.PluralName,
            ["singular"] = entity.Kind.ToLowerInvariant(),
        };
        if (names is not null)
        {
            namesNode["shortNames"] = Strings(names.ShortNames);
            namesNode["categories"] = Strings(names.Categories);
        }

        var columns = new JsonArray();
        foreach (var column in entityType.GetCustomAttributes<PrinterColumnAttribute>())
        {
            var node = new JsonObject
            {
                ["name"] = column.Name,
                ["type"] = column.Type,
                ["jsonPath"] = column.JsonPath,
                ["description"] = column.Description,
            };
            if (column.Priority != 0)
            {
                node["priority"] = column.Priority;
            }

            columns.Add((JsonNode)node);
        }

        var spec = new JsonObject
        {
                ["group"] = entity.Group,
                ["names"] = namesNode,
                ["scope"] = "Namespaced",
                ["versions"] = new JsonArray(new JsonObject
                {
                    ["name"] = entity.ApiVersion,
                    ["served"] = true,
                    ["storage"] = true,
                    ["subresources"] = new JsonObject { ["status"] = new JsonObject() },
                    ["additionalPrinterColumns"] = columns,
                    ["schema"] = new JsonObject { ["openAPIV3Schema"] = RootSchema(entityType) },
                }),
        };
        return new JsonObject
        {
            ["apiVersion"] = "apiextensions.k8s.io/v1",
            ["kind"] = "CustomResourceDefinition",
            ["metadata"] = new JsonObject
            {
                ["name"] = $"{entity.PluralName}.{entity.Group}",
                // What kubectl gentoo check compares with the CRDs it was built with: the API server keeps annotations as written.
                ["annotations"] = new JsonObject { [RequestAnnotations.SchemaDigest] = SchemaDigest(spec) },
            },
            ["spec"] = spec,
        };
    }

    private JsonObject RootSchema(Type entityType)
    {
        var schema = new JsonObject
        {
            ["description"] = docs.Summary(entityType) ?? throw MissingDoc(entityType.Name),
            ["type"] = "object",
        };
        var properties = new JsonObject();
        var required = new JsonArray();
        foreach (var property in SchemaProperties(entityType))
        {
            var name = JsonName(property);
            properties[name] = name == "metadata"
                // The API server forbids anything but the type here; it serves ObjectMeta's own docs for metadata.
                ? new JsonObject { ["type"] = "object" }
                : PropertySchema(property, name, 0);
            if (name != "status" && property.GetCustomAttribute<RequiredAttribute>() is not null)
            {
                required.Add((JsonNode)name);
            }
        }

        schema["properties"] = properties;
        if (required.Count > 0)
        {
            schema["required"] = required;
        }

        return schema;
    }

    private static void ApplyConstraints(JsonObject schema, PropertyInfo property, string path)
    {
        var kind = schema["type"]?.GetValue<string>();
        if (property.GetCustomAttribute<DefaultJsonAttribute>() is { } defaultValue)
        {
            schema["default"] = JsonNode.Parse(defaultValue.Json);
        }

        if (property.GetCustomAttribute<RegularExpressionAttribute>() is { } pattern)
        {
            schema["pattern"] = pattern.Pattern;
        }

        if (property.GetCustomAttribute<RangeAttribute>() is { } range)
        {
            schema["minimum"] = JsonValue.Create(Convert.ToInt64(range.Minimum));
            schema["maximum"] = JsonValue.Create(Convert.ToInt64(range.Maximum));
        }

        var (minName, maxName) = kind switch
        {
            "array" => ("minItems", "maxItems"),
            "object" => ("minProperties", "maxProperties"),
            _ => ("minLength", "maxLength"),
        };
        if (property.GetCustomAttribute<SizeAttribute>() is { } size)
        {
            SetBound(schema, minName, size.Min, 0);
            SetBound(schema, maxName, size.Max, int.MaxValue);
        }

        if (property.GetCustomAttribute<MaxSizeAttribute>() is { } maxSize)
        {
            SetBound(schema, maxName, maxSize.Max, int.MaxValue);
        }

        var items = schema["items"] as JsonObject ?? schema["additionalProperties"] as JsonObject;
        if (property.GetCustomAttribute<ItemSizeAttribute>() is { } itemSize)
        {
            var target = items ?? throw new InvalidOperationException($"{path}: [ItemSize] needs a list or map");
            SetBound(target, "minLength", itemSize.Min, 0);
            SetBound(target, "maxLength", itemSize.Max, int.MaxValue);
        }

        if (property.GetCustomAttribute<ItemPatternAttribute>() is { } itemPattern)
        {
            var target = items ?? throw new InvalidOperationException($"{path}: [ItemPattern] needs a list or map");
            target["pattern"] = itemPattern.Pattern;
        }

        if (property.GetCustomAttribute<ListMapAttribute>() is { } listMap)
        {
            schema["x-kubernetes-list-type"] = "map";
            schema["x-kubernetes-list-map-keys"] = Strings(listMap.Keys);
        }

        if (property.GetCustomAttribute<ListSetAttribute>() is not null)
        {
            schema["x-kubernetes-list-type"] = "set";
        }

        var rules = property.GetCustomAttributes<CelRuleAttribute>()
            .Select(rule => (rule.Rule, rule.Message))
            .ToList();
        if (property.GetCustomAttribute<ImmutableAttribute>() is not null)
        {
            rules.Insert(0, ("self == oldSelf", $"{path} is immutable"));
        }

        AddRules(schema, rules);
    }

    private static void SetBound(JsonObject schema, string name, int value, int unbounded)
    {
        if (value != unbounded && value >= 0)
        {
            schema[name] = value;
        }
    }

    private static void AddRules(JsonObject schema, IEnumerable<(string Rule, string Message)> rules)
    {
        var list = schema["x-kubernetes-validations"] as JsonArray ?? [];
        foreach (var (rule, message) in rules)
        {
            list.Add((JsonNode)new JsonObject { ["rule"] = rule, ["message"] = message });
        }

        if (list.Count > 0)
        {
            schema["x-kubernetes-validations"] = list;
        }
    }

    /// <summary>The schema of a type, without description; <paramref name="path"/> names the field for errors.</summary>
    private JsonObject TypeSchema(Type type, string path, int depth = 0)
    {
        if (depth > 16)
        {
            throw new InvalidOperationException($"{path}: the type nests too deep for a structural schema ({type.Name})");
        }

        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(string))
        {
            return new JsonObject { ["type"] = "string" };
        }

        if (type == typeof(bool))
        {
            return new JsonObject { ["type"] = "boolean" };
        }

        if (type == typeof(int) || type == typeof(long))
        {
            return new JsonObject { ["type"] = "integer", ["format"] = type == typeof(int) ? "int32" : "int64" };
        }

        if (type == typeof(double) || type == typeof(float))
        {
            return new JsonObject { ["type"] = "number", ["format"] = "double" };
        }

        if (type == typeof(DateTime) || type == typeof(DateTimeOffset))
        {
            return new JsonObject { ["type"] = "string", ["format"] = "date-time" };
        }

        if (type == typeof(byte[]))
        {
            return new JsonObject { ["type"] = "string", ["format"] = "byte" };
        }

        if (type == typeof(ResourceQuantity))
        {
            return new JsonObject
            {
                ["anyOf"] = new JsonArray(new JsonObject { ["type"] = "integer" }, new JsonObject { ["type"] = "string" }),
                ["pattern"] = QuantityPattern,
                ["x-kubernetes-int-or-string"] = true,
            };
        }

        if (type == typeof(IntOrString))
        {
            return new JsonObject
            {
                ["anyOf"] = new JsonArray(new JsonObject { ["type"] = "integer" }, new JsonObject { ["type"] = "string" }),
                ["x-kubernetes-int-or-string"] = true,
            };
        }

        if (type.IsEnum)
        {
            return new JsonObject { ["type"] = "string", ["enum"] = Strings(EnumValues(type)) };
        }

        if (type == typeof(object) || type == typeof(JsonElement) || typeof(JsonNode).IsAssignableFrom(type))
        {
            return new JsonObject { ["type"] = "object", ["x-kubernetes-preserve-unknown-fields"] = true };
        }

        if (DictionaryValueType(type) is { } valueType)
        {
            var values = WithTypeDescription(TypeSchema(valueType, path + "[*]", depth + 1), valueType);
            return new JsonObject { ["type"] = "object", ["additionalProperties"] = values };
        }

        if (ListItemType(type) is { } itemType)
        {
            var items = WithTypeDescription(TypeSchema(itemType, path + "[*]", depth + 1), itemType);
            return new JsonObject { ["type"] = "array", ["items"] = items };
        }

        if (!type.IsClass)
        {
            throw new InvalidOperationException($"{path}: no schema mapping for {type.FullName}");
        }

        var schema = new JsonObject { ["type"] = "object" };
        var properties = new JsonObject();
        var required = new List<string>();
        KubernetesRequired.TryGetValue(type, out var kubernetesRequired);
        foreach (var property in SchemaProperties(type))
        {
            var name = JsonName(property);
            properties[name] = PropertySchema(property, path + "." + name, depth);
            if (property.GetCustomAttribute<RequiredAttribute>() is not null || kubernetesRequired?.Contains(name) == true)
            {
                required.Add(name);
            }
        }

        schema["properties"] = properties;
        if (required.Count > 0)
        {
            schema["required"] = Strings(required);
        }

        AddRules(schema, type.GetCustomAttributes<CelRuleAttribute>().Select(rule => (rule.Rule, rule.Message)));
        return schema;
    }

    private JsonObject PropertySchema(PropertyInfo property, string path, int depth)
    {
        var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
        var schema = new JsonObject
        {
            ["description"] = docs.Summary(property) ?? docs.Summary(type) ?? throw MissingDoc(path),
        };
        foreach (var (key, value) in TypeSchema(type, path, depth + 1))
        {
            schema[key] = value?.DeepClone();
        }

        ApplyConstraints(schema, property, path);
        return schema;
    }

    /// <summary>Items of lists and values of maps carry the description of their type, where it has one.</summary>
    private JsonObject WithTypeDescription(JsonObject schema, Type type)
    {
        if (schema["type"]?.GetValue<string>() != "object" || IsBuiltIn(type) || docs.Summary(type) is not { } summary)
        {
            return schema;
        }

        var described = new JsonObject { ["description"] = summary };
        foreach (var (key, value) in schema.ToList())
        {
            schema.Remove(key);
            described[key] = value;
        }

        return described;
    }

    private static bool IsBuiltIn(Type type) => type.Namespace?.StartsWith("System", StringComparison.Ordinal) == true;

    /// <summary>Public properties, those of base classes first (status.phase and conditions lead).</summary>
    private static IEnumerable<PropertyInfo> SchemaProperties(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetMethod is not null && p.GetIndexParameters().Length == 0)
            .OrderBy(p => InheritanceDepth(p.DeclaringType!))
            .Where(p => p.GetCustomAttribute<JsonIgnoreAttribute>() is not { Condition: JsonIgnoreCondition.Always });

    private static int InheritanceDepth(Type type)
    {
        var depth = 0;
        for (var current = type.BaseType; current is not null; current = current.BaseType)
        {
            depth++;
        }

        return depth;
    }

    private static string JsonName(PropertyInfo property) =>
        property.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? JsonNamingPolicy.CamelCase.ConvertName(property.Name);

    private static IEnumerable<string> EnumValues(Type type) =>
        type.GetFields(BindingFlags.Public | BindingFlags.Static)
            .Select(field => field.GetCustomAttribute<JsonStringEnumMemberNameAttribute>()?.Name ?? field.Name);

    private static Type? DictionaryValueType(Type type)
    {
        var dictionary = type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IDictionary<,>)
            ? type
            : type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IDictionary<,>));
        if (dictionary is null)
        {
            return null;
        }

        var arguments = dictionary.GetGenericArguments();
        return arguments[0] == typeof(string)
            ? arguments[1]
            : throw new InvalidOperationException($"map keys must be strings, not {arguments[0].Name}");
    }

    private static Type? ListItemType(Type type)
    {
        if (type == typeof(string) || !typeof(IEnumerable).IsAssignableFrom(type))
        {
            return null;
        }

        if (type.IsArray)
        {
            return type.GetElementType();
        }

        var enumerable = type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IEnumerable<>)
            ? type
            : type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>));
        return enumerable?.GetGenericArguments()[0];
    }

    private static KubernetesEntityAttribute EntityAttribute(Type entityType) =>
        entityType.GetCustomAttribute<KubernetesEntityAttribute>()
        ?? throw new InvalidOperationException($"{entityType.Name} has no [KubernetesEntity] attribute");

    private static JsonArray Strings(IEnumerable<string> values) => new(values.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray());

    private static InvalidOperationException MissingDoc(string path) =>
        new($"{path} has no XML doc summary: every CRD field needs a description for kubectl explain");
}

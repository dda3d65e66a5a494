using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Gentoo.ApiServer.Api;
using Gentoo.ApiServer.Cel;

namespace Gentoo.ApiServer.Schema;

/// <summary>One validation error, worded as the API server words it ("spec.x: Required value").</summary>
public sealed record FieldError(string Field, string Kind, string? Value, string Detail)
{
    public override string ToString()
    {
        var text = new StringBuilder(Field).Append(": ").Append(Kind);
        if (Value is not null)
        {
            text.Append(": ").Append(Value);
        }

        if (Detail.Length > 0)
        {
            text.Append(": ").Append(Detail);
        }

        return text.ToString();
    }
}

/// <summary>A CRD schema that is not structural or whose rules do not compile; the API server refuses such a CRD.</summary>
public sealed class SchemaException(IReadOnlyList<string> problems) : Exception(string.Join("; ", problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}

/// <summary>
/// An OpenAPI v3 structural schema as the API server applies it to custom resources: pruning of unknown fields,
/// defaulting, validation of types and constraints, list-type uniqueness, and CEL rules (with oldSelf on update).
/// </summary>
public sealed class StructuralSchema
{
    private static readonly string[] ObjectRootFields = ["apiVersion", "kind", "metadata"];

    private readonly SchemaNode root;

    private StructuralSchema(SchemaNode root) => this.root = root;

    public static StructuralSchema Compile(JsonObject openApiV3Schema)
    {
        var problems = new List<string>();
        var root = SchemaNode.Compile(openApiV3Schema, "", problems);
        if (openApiV3Schema["properties"]?["metadata"] is JsonObject metadata
            && metadata.Any(p => p.Key != "type" && !(p.Key == "properties" && p.Value is JsonObject fields && fields.All(f => f.Key is "name" or "generateName"))))
        {
            problems.Add("properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified");
        }

        if (problems.Count > 0)
        {
            throw new SchemaException(problems);
        }

        return new StructuralSchema(root);
    }

    /// <summary>Removes fields the schema does not know; returns their paths (what strict field validation reports).</summary>
    public IReadOnlyList<string> Prune(JsonNode document)
    {
        var pruned = new List<string>();
        if (document is JsonObject map)
        {
            foreach (var (key, value) in map.ToList())
            {
                if (ObjectRootFields.Contains(key))
                {
                    continue;
                }

                if (!root.Properties.TryGetValue(key, out var property))
                {
                    map.Remove(key);
                    pruned.Add(key);
                }
                else
                {
                    property.Prune(value, key, pruned);
                }
            }
        }

        return pruned;
    }

    /// <summary>Applies schema defaults in place, parents before children, as the API server does.</summary>
    public void ApplyDefaults(JsonNode document) => root.ApplyDefaults(document);

    /// <summary>Validates a (pruned, defaulted) object; <paramref name="old"/> is the stored object on update.</summary>
    public IReadOnlyList<FieldError> Validate(JsonNode document, JsonNode? old = null)
    {
        var errors = new List<FieldError>();
        root.Validate(document, old, old is not null, "", errors);
        return errors;
    }

    private sealed class SchemaNode
    {
        public string? Type { get; private init; }
        public Dictionary<string, SchemaNode> Properties { get; } = new(StringComparer.Ordinal);
        public List<string> Required { get; } = [];
        public SchemaNode? Items { get; private set; }
        public SchemaNode? AdditionalProperties { get; private set; }
        public bool PreserveUnknownFields { get; private init; }
        public bool IntOrString { get; private init; }
        public bool Nullable { get; private init; }
        public List<JsonNode?> Enum { get; } = [];
        public Regex? Pattern { get; private set; }
        public string? Format { get; private init; }
        public long? MinLength { get; private init; }
        public long? MaxLength { get; private init; }
        public long? MinItems { get; private init; }
        public long? MaxItems { get; private init; }
        public long? MinProperties { get; private init; }
        public long? MaxProperties { get; private init; }
        public double? Minimum { get; private init; }
        public double? Maximum { get; private init; }
        public bool ExclusiveMinimum { get; private init; }
        public bool ExclusiveMaximum { get; private init; }
        public JsonNode? Default { get; private init; }
        public string? ListType { get; private init; }
        public List<string> ListMapKeys { get; } = [];
        public List<(CelProgram Program, string Message)> Rules { get; } = [];

        public static SchemaNode Compile(JsonObject raw, string path, List<string> problems)
        {
            var node = new SchemaNode
            {
                Type = raw["type"]?.GetValue<string>(),
                PreserveUnknownFields = raw["x-kubernetes-preserve-unknown-fields"]?.GetValue<bool>() == true,
                IntOrString = raw["x-kubernetes-int-or-string"]?.GetValue<bool>() == true,
                Nullable = raw["nullable"]?.GetValue<bool>() == true,
                Format = raw["format"]?.GetValue<string>(),
                MinLength = Long(raw, "minLength"),
                MaxLength = Long(raw, "maxLength"),
                MinItems = Long(raw, "minItems"),
                MaxItems = Long(raw, "maxItems"),
                MinProperties = Long(raw, "minProperties"),
                MaxProperties = Long(raw, "maxProperties"),
                Minimum = Number(raw["minimum"]),
                Maximum = Number(raw["maximum"]),
                ExclusiveMinimum = raw["exclusiveMinimum"]?.GetValue<bool>() == true,
                ExclusiveMaximum = raw["exclusiveMaximum"]?.GetValue<bool>() == true,
                Default = raw["default"]?.DeepClone(),
                ListType = raw["x-kubernetes-list-type"]?.GetValue<string>(),
            };
            var where = path.Length == 0 ? "<root>" : path;
            if (node.Type is null && !node.IntOrString && !node.PreserveUnknownFields)
            {
                problems.Add($"{where}.type: Required value: must not be empty for specified object fields");
            }

            if (raw["pattern"]?.GetValue<string>() is { } pattern)
            {
                try
                {
                    node.Pattern = Re2Pattern.Compile(pattern);
                }
                catch (ArgumentException e)
                {
                    problems.Add($"{where}.pattern: Invalid value: {pattern}: {e.Message}");
                }
            }

            if (raw["enum"] is JsonArray values)
            {
                node.Enum.AddRange(values.Select(v => v?.DeepClone()));
            }

            if (raw["properties"] is JsonObject properties)
            {
                foreach (var (name, child) in properties)
                {
                    node.Properties[name] = Compile(child!.AsObject(), Join(path, name), problems);
                }
            }

            if (raw["required"] is JsonArray required)
            {
                foreach (var name in required.Select(r => r!.GetValue<string>()))
                {
                    node.Required.Add(name);
                    if (!node.Properties.ContainsKey(name))
                    {
                        problems.Add($"{where}.required: Invalid value: {name}: not a property");
                    }
                }
            }

            if (raw["items"] is JsonObject items)
            {
                node.Items = Compile(items, path + "[*]", problems);
            }

            if (raw["additionalProperties"] is JsonObject additional)
            {
                node.AdditionalProperties = Compile(additional, path + "[*]", problems);
                if (node.Properties.Count > 0)
                {
                    problems.Add($"{where}: properties and additionalProperties are mutually exclusive");
                }
            }

            if (raw["x-kubernetes-list-map-keys"] is JsonArray keys)
            {
                node.ListMapKeys.AddRange(keys.Select(k => k!.GetValue<string>()));
                foreach (var key in node.ListMapKeys)
                {
                    var itemSchema = node.Items;
                    if (itemSchema is null || !itemSchema.Properties.TryGetValue(key, out var keySchema))
                    {
                        problems.Add($"{where}.x-kubernetes-list-map-keys: Invalid value: {key}: not a property of the items");
                    }
                    else if (!itemSchema.Required.Contains(key) && keySchema.Default is null)
                    {
                        problems.Add($"{where}.items.properties[{key}]: Invalid value: all map keys must be required or have a default value");
                    }
                }
            }

            if (node.ListType == "map" && node.ListMapKeys.Count == 0)
            {
                problems.Add($"{where}.x-kubernetes-list-map-keys: Required value: must not be empty if x-kubernetes-list-type is map");
            }

            if (raw["x-kubernetes-validations"] is JsonArray rules)
            {
                foreach (var rule in rules.OfType<JsonObject>())
                {
                    var source = rule["rule"]?.GetValue<string>() ?? "";
                    var message = rule["message"]?.GetValue<string>();
                    if (rule.ContainsKey("messageExpression") || rule.ContainsKey("reason") || rule.ContainsKey("fieldPath"))
                    {
                        problems.Add($"{where}.x-kubernetes-validations: messageExpression, reason and fieldPath need Kubernetes 1.27 or later");
                    }

                    try
                    {
                        var program = CelProgram.Compile(source, new HashSet<string> { "self", "oldSelf" });
                        node.Rules.Add((program, message ?? $"failed rule: {source}"));
                    }
                    catch (CelException e)
                    {
                        problems.Add($"{where}.x-kubernetes-validations[{source}]: compilation failed: {e.Message}");
                    }
                }
            }

            // Field references in rules must exist in the schema, as the API server's type check demands.
            foreach (var (program, _) in node.Rules)
            {
                foreach (var variable in new[] { "self", "oldSelf" })
                {
                    foreach (var fields in program.FieldPaths(variable))
                    {
                        if (node.Resolve(fields) is { } missing)
                        {
                            problems.Add($"{where}.x-kubernetes-validations[{program.Source}]: compilation failed: undefined field '{missing}'");
                        }
                    }
                }
            }

            if (node.Default is not null && node.Type is not null)
            {
                var copy = node.Default.DeepClone();
                node.ApplyDefaults(copy);
                var errors = new List<FieldError>();
                node.Validate(copy, null, false, path, errors, runRules: false);
                problems.AddRange(errors.Select(e => $"{where}.default: {e}"));
            }

            return node;
        }

        /// <summary>The first field of the chain this schema does not have, or null when all resolve (or cannot be checked).</summary>
        private string? Resolve(IReadOnlyList<string> fields)
        {
            var current = this;
            foreach (var field in fields)
            {
                if (current.PreserveUnknownFields || current.AdditionalProperties is not null)
                {
                    return null;
                }

                if (!current.Properties.TryGetValue(field, out var next))
                {
                    return field;
                }

                current = next;
            }

            return null;
        }

        private static long? Long(JsonObject raw, string name) => Number(raw[name]) is { } value ? (long)value : null;

        /// <summary>A JSON number as a double, whatever CLR type backs the node (YAML gives long, JSON text gives an element).</summary>
        private static double? Number(JsonNode? node) =>
            node is JsonValue value && value.GetValueKind() == JsonValueKind.Number
                ? double.Parse(value.ToJsonString(), CultureInfo.InvariantCulture)
                : null;

        private static string Join(string path, string name) => path.Length == 0 ? name : path + "." + name;

        public void Prune(JsonNode? value, string path, List<string> pruned)
        {
            switch (value)
            {
                case JsonObject map when !PreserveUnknownFields || Properties.Count > 0 || AdditionalProperties is not null:
                    foreach (var (key, child) in map.ToList())
                    {
                        if (Properties.TryGetValue(key, out var property))
                        {
                            property.Prune(child, Join(path, key), pruned);
                        }
                        else if (AdditionalProperties is not null)
                        {
                            AdditionalProperties.Prune(child, Join(path, key), pruned);
                        }
                        else if (!PreserveUnknownFields)
                        {
                            map.Remove(key);
                            pruned.Add(Join(path, key));
                        }
                    }

                    break;
                case JsonArray list when Items is not null:
                    for (var i = 0; i < list.Count; i++)
                    {
                        Items.Prune(list[i], $"{path}[{i}]", pruned);
                    }

                    break;
            }
        }

        public void ApplyDefaults(JsonNode? value)
        {
            switch (value)
            {
                case JsonObject map:
                    foreach (var (name, property) in Properties)
                    {
                        if (map.TryGetPropertyValue(name, out var present) && present is null && !property.Nullable)
                        {
                            map.Remove(name);
                        }

                        if (!map.ContainsKey(name) && property.Default is not null)
                        {
                            map[name] = property.Default.DeepClone();
                        }

                        if (map.TryGetPropertyValue(name, out var child))
                        {
                            property.ApplyDefaults(child);
                        }
                    }

                    if (AdditionalProperties is not null)
                    {
                        foreach (var (_, child) in map)
                        {
                            AdditionalProperties.ApplyDefaults(child);
                        }
                    }

                    break;
                case JsonArray list when Items is not null:
                    foreach (var item in list)
                    {
                        Items.ApplyDefaults(item);
                    }

                    break;
            }
        }

        public void Validate(JsonNode? value, JsonNode? old, bool hasOld, string path, List<FieldError> errors, bool runRules = true)
        {
            var field = path.Length == 0 ? "<root>" : path;
            if (value is null)
            {
                if (!Nullable)
                {
                    errors.Add(new FieldError(field, "Invalid value", "\"null\"", $"{field} in body must be of type {Type ?? "object"}: \"null\""));
                }

                return;
            }

            var actual = JsonType(value);
            if (!TypeMatches(actual))
            {
                var expected = IntOrString ? "integer or string" : Type;
                errors.Add(new FieldError(field, "Invalid value", Quote(actual), $"{field} in body must be of type {expected}: {Quote(actual)}"));
                return;
            }

            if (Enum.Count > 0 && !Enum.Any(allowed => JsonNode.DeepEquals(allowed, value)))
            {
                errors.Add(new FieldError(field, "Unsupported value", value.ToJsonString(),
                    "supported values: " + string.Join(", ", Enum.Select(e => e?.ToJsonString()))));
            }

            switch (value)
            {
                case JsonValue scalar when actual == "string":
                    ValidateString(scalar.GetValue<string>(), field, errors);
                    break;
                case JsonValue scalar when actual is "integer" or "number":
                    ValidateNumber(Number(scalar)!.Value, scalar.ToJsonString(), field, errors);
                    break;
                case JsonObject map:
                    ValidateObject(map, old as JsonObject, hasOld, path, errors, runRules);
                    break;
                case JsonArray list:
                    ValidateArray(list, old as JsonArray, hasOld, path, errors, runRules);
                    break;
            }

            if (runRules)
            {
                RunRules(value, old, hasOld, field, actual, errors);
            }
        }

        private bool TypeMatches(string actual)
        {
            if (IntOrString)
            {
                return actual is "integer" or "string";
            }

            return Type switch
            {
                null => true,
                "number" => actual is "number" or "integer",
                _ => Type == actual,
            };
        }

        private void ValidateString(string text, string field, List<FieldError> errors)
        {
            var length = text.EnumerateRunes().Count();
            if (MinLength is { } min && length < min)
            {
                errors.Add(new FieldError(field, "Invalid value", Quote(text), $"{field} in body should be at least {min} chars long"));
            }

            if (MaxLength is { } max && length > max)
            {
                errors.Add(new FieldError(field, "Too long", null, $"may not be longer than {max}"));
            }

            if (Pattern is not null && !Pattern.IsMatch(text))
            {
                errors.Add(new FieldError(field, "Invalid value", Quote(text), $"{field} in body should match '{Pattern}'"));
            }

            if (Format == "date-time" && !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out _))
            {
                errors.Add(new FieldError(field, "Invalid value", Quote(text), $"{field} in body must be of type date-time: {Quote(text)}"));
            }
        }

        private void ValidateNumber(double number, string text, string field, List<FieldError> errors)
        {
            if (Minimum is { } min && (number < min || (ExclusiveMinimum && number <= min)))
            {
                errors.Add(new FieldError(field, "Invalid value", text, $"{field} in body should be greater than or equal to {min}"));
            }

            if (Maximum is { } max && (number > max || (ExclusiveMaximum && number >= max)))
            {
                errors.Add(new FieldError(field, "Invalid value", text, $"{field} in body should be less than or equal to {max}"));
            }

            if (Format == "int32" && number is < int.MinValue or > int.MaxValue)
            {
                errors.Add(new FieldError(field, "Invalid value", text, $"{field} in body must be of type int32: {text}"));
            }
        }

        private void ValidateObject(JsonObject map, JsonObject? old, bool hasOld, string path, List<FieldError> errors, bool runRules)
        {
            var field = path.Length == 0 ? "<root>" : path;
            foreach (var name in Required.Where(name => !map.ContainsKey(name)))
            {
                errors.Add(new FieldError(Join(path, name), "Required value", null, ""));
            }

            if (MinProperties is { } min && map.Count < min)
            {
                errors.Add(new FieldError(field, "Invalid value", map.Count.ToString(CultureInfo.InvariantCulture), $"{field} in body should have at least {min} properties"));
            }

            if (MaxProperties is { } max && map.Count > max)
            {
                errors.Add(new FieldError(field, "Too many", map.Count.ToString(CultureInfo.InvariantCulture), $"must have at most {max} items"));
            }

            foreach (var (name, child) in map)
            {
                var schema = Properties.GetValueOrDefault(name) ?? AdditionalProperties;
                if (schema is null || (path.Length == 0 && ObjectRootFields.Contains(name)))
                {
                    continue;
                }

                JsonNode? oldChild = null;
                var childHasOld = hasOld && old is not null && old.TryGetPropertyValue(name, out oldChild);
                schema.Validate(child, oldChild, childHasOld, AdditionalProperties == schema ? $"{path}[{name}]" : Join(path, name), errors, runRules);
            }
        }

        private void ValidateArray(JsonArray list, JsonArray? old, bool hasOld, string path, List<FieldError> errors, bool runRules)
        {
            if (MinItems is { } min && list.Count < min)
            {
                errors.Add(new FieldError(path, "Invalid value", list.Count.ToString(CultureInfo.InvariantCulture), $"{path} in body should have at least {min} items"));
            }

            if (MaxItems is { } max && list.Count > max)
            {
                errors.Add(new FieldError(path, "Too many", list.Count.ToString(CultureInfo.InvariantCulture), $"must have at most {max} items"));
            }

            var seen = new List<JsonNode?>();
            for (var i = 0; i < list.Count; i++)
            {
                var item = list[i];
                var identity = ListType switch
                {
                    "set" => item,
                    "map" when item is JsonObject entry => new JsonObject(ListMapKeys.Select(k =>
                        new KeyValuePair<string, JsonNode?>(k, entry[k]?.DeepClone()))),
                    _ => null,
                };
                if (identity is not null)
                {
                    if (seen.Any(s => JsonNode.DeepEquals(s, identity)))
                    {
                        errors.Add(new FieldError($"{path}[{i}]", "Duplicate value", identity.ToJsonString(), ""));
                    }

                    seen.Add(identity);
                }

                // Only list-type map items correlate with the old object, so only they see oldSelf.
                JsonNode? oldItem = null;
                var itemHasOld = hasOld && ListType == "map" && old is not null && identity is not null
                    && (oldItem = old.FirstOrDefault(o => o is JsonObject oldEntry && ListMapKeys.All(k => JsonNode.DeepEquals(oldEntry[k], item![k])))) is not null;
                Items?.Validate(item, oldItem, itemHasOld, $"{path}[{i}]", errors, runRules);
            }
        }

        private void RunRules(JsonNode value, JsonNode? old, bool hasOld, string field, string actual, List<FieldError> errors)
        {
            foreach (var (program, message) in Rules)
            {
                if (program.IsTransitionRule && !hasOld)
                {
                    continue;
                }

                var variables = new Dictionary<string, object?> { ["self"] = CelProgram.FromJson(value) };
                if (hasOld)
                {
                    variables["oldSelf"] = CelProgram.FromJson(old);
                }

                try
                {
                    if (program.Evaluate(variables) is not true)
                    {
                        errors.Add(new FieldError(field, "Invalid value", Quote(actual), message));
                    }
                }
                catch (CelException e)
                {
                    errors.Add(new FieldError(field, "Invalid value", Quote(actual), $"{e.Message} evaluating rule: {program.Source}"));
                }
            }
        }

        private static string JsonType(JsonNode node) => node switch
        {
            JsonObject => "object",
            JsonArray => "array",
            JsonValue value => value.GetValueKind() switch
            {
                JsonValueKind.String => "string",
                JsonValueKind.True or JsonValueKind.False => "boolean",
                JsonValueKind.Number => JsonNumbers.TryInteger(value, out _) ? "integer" : "number",
                _ => "null",
            },
            _ => "null",
        };

        private static string Quote(string text) => JsonValue.Create(text).ToJsonString();
    }
}

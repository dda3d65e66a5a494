using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Gentoo.ApiServer.Api;

/// <summary>
/// Server-side printing, as `kubectl get` asks for it (Accept: application/json;as=Table;g=meta.k8s.io;v=v1): a CRD's
/// additionalPrinterColumns evaluated on each object, the columns kubectl users know for the built-in kinds, Age as a
/// human-readable duration.
/// </summary>
public static partial class Tables
{
    public sealed record Column(string Name, string Type, string? JsonPath, string Description = "", int Priority = 0, string? Format = null);

    public static bool Wanted(string? accept) => accept is not null && accept.Contains("as=Table", StringComparison.Ordinal);

    public static JsonObject Render(ResourceType type, IEnumerable<JsonObject> objects, long revision, string? includeObject, DateTimeOffset now)
    {
        var columns = Columns(type);
        var rows = objects.Select(o => (JsonNode)new JsonObject
        {
            ["cells"] = new JsonArray([.. columns.Select(c => Cell(type, c, o, now))]),
            ["object"] = includeObject switch
            {
                "None" => null,
                "Object" => o.DeepClone(),
                _ => new JsonObject { ["kind"] = "PartialObjectMetadata", ["apiVersion"] = "meta.k8s.io/v1", ["metadata"] = o["metadata"]?.DeepClone() },
            },
        });
        return new JsonObject
        {
            ["kind"] = "Table",
            ["apiVersion"] = "meta.k8s.io/v1",
            ["metadata"] = new JsonObject { ["resourceVersion"] = revision.ToString(CultureInfo.InvariantCulture) },
            ["columnDefinitions"] = new JsonArray([.. columns.Select(c => (JsonNode)new JsonObject
            {
                ["name"] = c.Name,
                ["type"] = c.Type,
                ["format"] = c.Format ?? "",
                ["description"] = c.Description,
                ["priority"] = c.Priority,
            })]),
            ["rows"] = new JsonArray([.. rows]),
        };
    }

    private static readonly Column NameColumn = new("Name", "string", ".metadata.name", "Name must be unique within a namespace.", Format: "name");
    private static readonly Column AgeColumn = new("Age", "date", ".metadata.creationTimestamp", "The time since the object was created.");

    private static IReadOnlyList<Column> Columns(ResourceType type)
    {
        if (type.Schema is { PrinterColumns: { Count: > 0 } printed })
        {
            return [NameColumn, .. printed];
        }

        return type.Key switch
        {
            "/pods" =>
            [
                NameColumn, new("Ready", "string", null, "The containers ready of all."), new("Status", "string", null, "The pod's phase, or why it waits."),
                new("Restarts", "string", null, "Container restarts."), AgeColumn, new("IP", "string", ".status.podIP", Priority: 1), new("Node", "string", ".spec.nodeName", Priority: 1),
            ],
            "/services" =>
            [
                NameColumn, new("Type", "string", ".spec.type"), new("Cluster-IP", "string", ".spec.clusterIP"), new("External-IP", "string", null),
                new("Port(s)", "string", null), AgeColumn,
            ],
            "apps/deployments" =>
            [
                NameColumn, new("Ready", "string", null), new("Up-to-date", "integer", ".status.updatedReplicas"), new("Available", "integer", ".status.availableReplicas"), AgeColumn,
            ],
            "/persistentvolumeclaims" =>
            [
                NameColumn, new("Status", "string", ".status.phase"), new("Volume", "string", ".spec.volumeName"), new("Capacity", "string", ".status.capacity.storage"),
                new("Access Modes", "string", null), new("StorageClass", "string", ".spec.storageClassName"), AgeColumn,
            ],
            "/nodes" => [NameColumn, new("Status", "string", null), AgeColumn, new("Version", "string", ".status.nodeInfo.kubeletVersion"), new("Kernel-Version", "string", ".status.nodeInfo.kernelVersion", Priority: 1)],
            _ => [NameColumn, AgeColumn],
        };
    }

    private static JsonNode? Cell(ResourceType type, Column column, JsonObject obj, DateTimeOffset now)
    {
        if (column.JsonPath is null)
        {
            return Computed(type, column.Name, obj);
        }

        var value = Evaluate(obj, column.JsonPath);
        return column.Type switch
        {
            "date" => value?.GetValueKind() == System.Text.Json.JsonValueKind.String
                && DateTimeOffset.TryParse(value.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time)
                    ? HumanDuration(now - time)
                    : value is null ? null : "<invalid>",
            "string" => value is null ? null : value.GetValueKind() == System.Text.Json.JsonValueKind.String ? value.GetValue<string>() : value.ToJsonString(),
            _ => value?.DeepClone(),
        };
    }

    /// <summary>The built-in kinds' columns that are not one field, computed as kubectl's printers do.</summary>
    private static string? Computed(ResourceType type, string column, JsonObject obj)
    {
        var status = obj["status"];
        switch (type.Key, column)
        {
            case ("/pods", "Ready"):
                var statuses = status?["containerStatuses"] as JsonArray ?? [];
                var total = (obj["spec"]?["containers"] as JsonArray)?.Count ?? 0;
                return $"{statuses.Count(s => s?["ready"]?.GetValue<bool>() == true)}/{total}";
            case ("/pods", "Status"):
                if (obj["metadata"]?["deletionTimestamp"] is not null)
                {
                    return "Terminating";
                }

                var waiting = (status?["initContainerStatuses"] as JsonArray ?? []).Concat(status?["containerStatuses"] as JsonArray ?? [])
                    .Select(s => s?["state"]?["waiting"]?["reason"]?.GetValue<string>() ?? s?["state"]?["terminated"]?["reason"]?.GetValue<string>())
                    .FirstOrDefault(r => r is not null and not "Completed" and not "PodInitializing");
                return waiting ?? status?["reason"]?.GetValue<string>() ?? status?["phase"]?.GetValue<string>() ?? "Pending";
            case ("/pods", "Restarts"):
                return (status?["containerStatuses"] as JsonArray ?? []).Sum(s => s?["restartCount"]?.GetValue<int>() ?? 0).ToString(CultureInfo.InvariantCulture);
            case ("/services", "External-IP"):
                var ingress = (status?["loadBalancer"]?["ingress"] as JsonArray ?? []).Select(i => i?["ip"]?.GetValue<string>() ?? i?["hostname"]?.GetValue<string>()).OfType<string>().ToList();
                return ingress.Count > 0 ? string.Join(',', ingress) : obj["spec"]?["type"]?.GetValue<string>() == "LoadBalancer" ? "<pending>" : "<none>";
            case ("/services", "Port(s)"):
                return string.Join(',', (obj["spec"]?["ports"] as JsonArray ?? []).Select(p =>
                    $"{p?["port"]}{(p?["nodePort"] is { } node ? ":" + node : "")}/{p?["protocol"]?.GetValue<string>() ?? "TCP"}"));
            case ("apps/deployments", "Ready"):
                return $"{status?["readyReplicas"]?.GetValue<int>() ?? 0}/{obj["spec"]?["replicas"]?.GetValue<int>() ?? 1}";
            case ("/persistentvolumeclaims", "Access Modes"):
                return string.Join(',', (obj["spec"]?["accessModes"] as JsonArray ?? []).Select(m => m?.GetValue<string>() switch
                {
                    "ReadWriteOnce" => "RWO",
                    "ReadOnlyMany" => "ROX",
                    "ReadWriteMany" => "RWX",
                    "ReadWriteOncePod" => "RWOP",
                    var other => other,
                }));
            case ("/nodes", "Status"):
                var ready = (status?["conditions"] as JsonArray ?? []).FirstOrDefault(c => c?["type"]?.GetValue<string>() == "Ready");
                return ready?["status"]?.GetValue<string>() == "True" ? "Ready" : "NotReady";
            default:
                return null;
        }
    }

    /// <summary>
    /// The simple JSONPath CRD printer columns use: fields (<c>.status.phase</c>), indexes (<c>[0]</c>) and equality filters
    /// (<c>.status.conditions[?(@.type=="Ready")].status</c>); the first match, or null.
    /// </summary>
    public static JsonNode? Evaluate(JsonNode? node, string path)
    {
        foreach (Match step in PathStep().Matches(path))
        {
            if (node is null)
            {
                return null;
            }

            if (step.Groups["field"].Success)
            {
                node = node is JsonObject o ? o[step.Groups["field"].Value] : null;
            }
            else if (step.Groups["index"].Success)
            {
                var index = int.Parse(step.Groups["index"].Value, CultureInfo.InvariantCulture);
                node = node is JsonArray a && index < a.Count ? a[index] : null;
            }
            else
            {
                var key = step.Groups["key"].Value;
                var wanted = step.Groups["value"].Value;
                node = node is JsonArray a
                    ? a.FirstOrDefault(item => item is JsonObject candidate && candidate[key] is JsonValue v && v.ToString() == wanted)
                    : null;
            }
        }

        return node;
    }

    [GeneratedRegex("""\.(?<field>[A-Za-z0-9_-]+)|\[(?<index>[0-9]+)\]|\[\?\(@\.(?<key>[A-Za-z0-9_-]+)\s*==\s*["'](?<value>[^"']*)["']\)\]""")]
    private static partial Regex PathStep();

    /// <summary>Kubernetes' human-readable duration: 45s, 3m7s, 15m, 5h12m, 2d4h, 340d, 3y20d.</summary>
    public static string HumanDuration(TimeSpan d)
    {
        var seconds = (long)d.TotalSeconds;
        if (seconds < -1)
        {
            return "<invalid>";
        }

        if (seconds < 0)
        {
            return "0s";
        }

        if (seconds < 120)
        {
            return $"{seconds}s";
        }

        var minutes = (long)d.TotalMinutes;
        if (minutes < 10)
        {
            return seconds % 60 == 0 ? $"{minutes}m" : $"{minutes}m{seconds % 60}s";
        }

        if (minutes < 180)
        {
            return $"{minutes}m";
        }

        var hours = (long)d.TotalHours;
        return hours switch
        {
            < 8 => minutes % 60 == 0 ? $"{hours}h" : $"{hours}h{minutes % 60}m",
            < 48 => $"{hours}h",
            < 24 * 8 => hours % 24 == 0 ? $"{hours / 24}d" : $"{hours / 24}d{hours % 24}h",
            < 24 * 365 * 2 => $"{hours / 24}d",
            < 24 * 365 * 8 => hours / 24 % 365 == 0 ? $"{hours / 24 / 365}y" : $"{hours / 24 / 365}y{hours / 24 % 365}d",
            _ => $"{hours / 24 / 365}y",
        };
    }
}

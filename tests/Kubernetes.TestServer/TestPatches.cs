using System.Text.Json;
using System.Text.Json.Serialization;
using k8s.Models;

namespace Gentoo.Kubernetes.TestServer;

/// <summary>
/// Merge patches the tests write as anonymous objects. The client's JSON has no reflection in any of our processes
/// (ClientJson), so a test serialises its own patch body, as the client would (camelCase, nulls left out, enums as
/// names), and hands the client the text.
/// </summary>
public static class TestPatches
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter() },
    };

    public static V1Patch Merge(object body) => new(JsonSerializer.Serialize(body, Json), V1Patch.PatchType.MergePatch);
}

using System.Collections;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Gentoo.Entities.V1Alpha1;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Tests.Entities;

/// <summary>
/// The contracts generated at compile time (<see cref="EntityJson"/>) must read and write the three kinds exactly as
/// KubernetesClient's reflection does, or the processes that put them first would write other JSON than the API
/// server's schema and the tests expect.
/// </summary>
public sealed class EntityJsonTests
{
    public static TheoryData<Type> Kinds => [typeof(GentooBootstrap), typeof(GentooBuilder), typeof(BuildRun)];

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Every_field_of_a_kind_is_written_and_read_as_the_clients_reflection_does(Type kind)
    {
        var (reflection, generated) = (ClientOptions(), ClientOptions(EntityJson.Default));
        var filled = Filled(kind, depth: 0);

        var expected = JsonSerializer.Serialize(filled, kind, reflection);
        var written = JsonSerializer.Serialize(filled, kind, generated);

        written.ShouldBe(expected);
        generated.GetTypeInfo(kind).OriginatingResolver.ShouldBe(EntityJson.Default, "the generated contract, not the reflection one, wrote it");
        JsonSerializer.Serialize(JsonSerializer.Deserialize(expected, kind, generated), kind, reflection).ShouldBe(expected);
        expected.ShouldContain("\"apiVersion\":");
        expected.ShouldContain("\"phase\":\"");
    }

    [Fact]
    public void Unset_fields_are_left_out_and_enums_are_written_by_name()
    {
        var run = new BuildRun
        {
            ApiVersion = GroupVersion.ApiVersion,
            Kind = "BuildRun",
            Metadata = new V1ObjectMeta { Name = "firefox" },
            Spec = new BuildRunSpec { BuilderRef = new LocalReference { Name = "desktop" } },
            Status = new BuildRunStatus { Phase = BuildRunPhase.AwaitingOperator },
        };

        var json = JsonSerializer.Serialize(run, ClientOptions(EntityJson.Default));

        json.ShouldBe(JsonSerializer.Serialize(run, ClientOptions()));
        json.ShouldContain("\"status\":{\"phase\":\"AwaitingOperator\"}");
        json.ShouldNotContain("null");
    }

    /// <summary>KubernetesClient's serializer options (camelCase, nulls left out, enums and times as it writes them), with <paramref name="first"/> ahead of its resolvers.</summary>
    private static JsonSerializerOptions ClientOptions(params IJsonTypeInfoResolver[] first)
    {
        var options = new JsonSerializerOptions
        {
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
        };
        options.Converters.Add(new JsonStringEnumConverter());
        options.Converters.Add(new KubernetesJson.Iso8601TimeSpanConverter());
        options.Converters.Add(new KubernetesJson.KubernetesDateTimeConverter());
        options.Converters.Add(new KubernetesJson.KubernetesDateTimeOffsetConverter());
        foreach (var resolver in first.Reverse())
        {
            options.TypeInfoResolverChain.Insert(0, resolver);
        }

        return options;
    }

    /// <summary>An object with every settable property set to something other than its default, nested objects and lists included.</summary>
    private static object? Filled(Type type, int depth)
    {
        var underlying = Nullable.GetUnderlyingType(type) ?? type;
        if (underlying == typeof(string))
        {
            return $"text-{depth}";
        }

        if (underlying == typeof(bool))
        {
            return true;
        }

        if (underlying == typeof(int) || underlying == typeof(long) || underlying == typeof(double))
        {
            return Convert.ChangeType(7 + depth, underlying, System.Globalization.CultureInfo.InvariantCulture);
        }

        if (underlying == typeof(DateTime))
        {
            return new DateTime(2026, 12, 3, 1, 2, 3, 456, DateTimeKind.Utc);
        }

        if (underlying.IsEnum)
        {
            return Enum.GetValues(underlying).GetValue(Enum.GetValues(underlying).Length - 1);
        }

        if (underlying == typeof(ResourceQuantity))
        {
            return new ResourceQuantity("20Gi");
        }

        if (depth > 5)
        {
            return null;
        }

        if (underlying.IsGenericType && underlying.GetGenericTypeDefinition() is var definition
            && (definition == typeof(IDictionary<,>) || definition == typeof(Dictionary<,>)))
        {
            var valueType = underlying.GetGenericArguments()[1];
            var map = (IDictionary)Activator.CreateInstance(typeof(Dictionary<,>).MakeGenericType(typeof(string), valueType))!;
            map["key"] = Filled(valueType, depth + 1);
            return map;
        }

        if (underlying.IsGenericType && underlying.GetGenericTypeDefinition() is var listDefinition
            && (listDefinition == typeof(IList<>) || listDefinition == typeof(List<>)))
        {
            var itemType = underlying.GetGenericArguments()[0];
            var list = (IList)Activator.CreateInstance(typeof(List<>).MakeGenericType(itemType))!;
            list.Add(Filled(itemType, depth + 1));
            return list;
        }

        var instance = Activator.CreateInstance(underlying)!;
        foreach (var property in underlying.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite && p.GetIndexParameters().Length == 0))
        {
            property.SetValue(instance, Filled(property.PropertyType, depth + 1));
        }

        return instance;
    }
}

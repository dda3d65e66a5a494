using System.Text.Json.Serialization.Metadata;
using Gentoo.Connection;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Hosting;
using Gentoo.Runtime;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Tests.Hosting;

public sealed class ClientJsonTests
{
    [Fact]
    public void Locked_client_options_refuse_changes_and_still_read_and_write_kubernetes_objects()
    {
        ClientJson.Lock(OperatorJson.Contracts); // locked already at the start of this process (ClientJsonSetup), as Main does
        ClientJson.Lock(OperatorJson.Contracts); // a second lock (another entry point in the same process) is harmless
        Should.Throw<InvalidOperationException>(() => ClientJson.Lock(new DefaultJsonTypeInfoResolver()));

        Should.Throw<InvalidOperationException>(() => KubernetesJson.AddJsonOptions(options => options.WriteIndented = true));
        var pod = new V1Pod { Metadata = new V1ObjectMeta { Name = "build-1", CreationTimestamp = new DateTime(2026, 12, 2, 20, 0, 0, DateTimeKind.Utc) } };
        var json = KubernetesJson.Serialize(pod);
        json.ShouldContain("\"creationTimestamp\":\"2026-12-02T20:00:00Z\"");
        KubernetesJson.Deserialize<V1Pod>(json).Metadata.Name.ShouldBe("build-1");
        KubernetesJson.AddJsonOptions(options => options.GetTypeInfo(typeof(BuildRun)).OriginatingResolver.ShouldBe(EntityJson.Default, "the kinds' generated contracts come first"));
        KubernetesJson.Deserialize<BuildRun>("{\"status\":{\"phase\":\"Queued\"}}").Status!.Phase.ShouldBe(BuildRunPhase.Queued);

        // No reflection behind the generated contracts: a type without one fails here as it would in the native executables.
        Should.Throw<NotSupportedException>(() => KubernetesJson.Serialize(new WithoutContract("x")));
        KubernetesJson.Deserialize<ResourceList<BuildRun>>("{\"items\":[{\"metadata\":{\"name\":\"a\"}}]}").Items.Single().Metadata.Name.ShouldBe("a");

        // Nor the client's contracts for all of its models, which the native executables do not have (a Kubernetes kind
        // missing from ClientModelJson fails here too), and a secret's come from ours.
        KubernetesJson.AddJsonOptions(options =>
        {
            options.TypeInfoResolverChain.OfType<SourceGenerationContext>().ShouldBeEmpty();
            options.GetTypeInfo(typeof(V1Secret)).OriginatingResolver.ShouldBe(ClientModelJson.Default);
        });
        Should.Throw<NotSupportedException>(() => KubernetesJson.Serialize(new V1CSIDriver()));
    }

    private sealed record WithoutContract(string Name);
}

using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Gentoo.ApiServer.Api;
using k8s;
using k8s.Models;

namespace Gentoo.Kubernetes.TestServer.Tests;

/// <summary>Server-side printing as kubectl get asks for it.</summary>
public sealed class TablesTests
{
    [Theory]
    [InlineData(45, "45s")]
    [InlineData(119, "119s")]
    [InlineData(187, "3m7s")]
    [InlineData(240, "4m")]
    [InlineData(900, "15m")]
    [InlineData(5 * 3600 + 12 * 60, "5h12m")]
    [InlineData(30 * 3600, "30h")]
    [InlineData(52 * 3600, "2d4h")]
    [InlineData(340 * 86400, "340d")]
    [InlineData(3 * 365 * 86400 + 20 * 86400, "3y20d")]
    public void Ages_read_as_kubectl_prints_them(int seconds, string age) => Tables.HumanDuration(TimeSpan.FromSeconds(seconds)).ShouldBe(age);

    [Fact]
    public void Printer_column_paths_follow_fields_indexes_and_equality_filters()
    {
        var run = JsonNode.Parse("""{"status":{"phase":"Running","conditions":[{"type":"Reconciling","status":"True"},{"type":"Ready","status":"False","reason":"Running"}],"attempts":[{"node":"vm"}]}}""");

        Tables.Evaluate(run, ".status.phase")!.GetValue<string>().ShouldBe("Running");
        Tables.Evaluate(run, """.status.conditions[?(@.type=="Ready")].reason""")!.GetValue<string>().ShouldBe("Running");
        Tables.Evaluate(run, ".status.attempts[0].node")!.GetValue<string>().ShouldBe("vm");
        Tables.Evaluate(run, ".status.attempts[3].node").ShouldBeNull();
        Tables.Evaluate(run, ".spec.builderRef.name").ShouldBeNull();
    }

    [Fact]
    public async Task Kubectl_get_receives_a_table_with_the_crds_printer_columns_and_pods_with_their_status()
    {
        await using var server = await KubeApiServer.StartAsync();
        using var kube = new k8s.Kubernetes(server.ClientConfiguration());
        await kube.CoreV1.CreateNamespacedPodAsync(new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = "p" },
            Spec = new V1PodSpec { Containers = [new V1Container { Name = "c", Image = "busybox" }], NodeName = "elsewhere" },
        }, "default");
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/namespaces/default/pods");
        request.Headers.Accept.Add(MediaTypeWithQualityHeaderValue.Parse("application/json;as=Table;v=v1;g=meta.k8s.io"));
        using var response = await http.SendAsync(request);
        var table = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        table["kind"]!.GetValue<string>().ShouldBe("Table");
        table["columnDefinitions"]!.AsArray().Select(c => c!["name"]!.GetValue<string>()).ShouldBe(["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node"]);
        var cells = table["rows"]![0]!["cells"]!.AsArray();
        cells[0]!.GetValue<string>().ShouldBe("p");
        cells[1]!.GetValue<string>().ShouldBe("0/1");
        cells[6]!.GetValue<string>().ShouldBe("elsewhere");
        table["rows"]![0]!["object"]!["kind"]!.GetValue<string>().ShouldBe("PartialObjectMetadata");
    }
}

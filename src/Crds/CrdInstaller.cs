using System.Net;
using System.Reflection;
using Gentoo.ApiServer.Yaml;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Gentoo.Crds;

/// <summary>The CRDs cannot be installed or are not served: the message says which and what to do.</summary>
public sealed class CrdInstallException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Applies the generated CRDs (embedded from config/crd) with server-side apply, and checks they are served.</summary>
public sealed class CrdInstaller(IKubernetes kube, ILogger<CrdInstaller> log)
{
    public const string FieldManager = "gentoo-operator";

    /// <summary>The CRD manifests compiled into the operator, by file name.</summary>
    public static IReadOnlyDictionary<string, string> EmbeddedManifests()
    {
        var assembly = Assembly.GetExecutingAssembly();
        var manifests = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith("crd/", StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream);
            manifests[name["crd/".Length..]] = reader.ReadToEnd();
        }

        return manifests;
    }

    public static IEnumerable<string> CrdNames() => CrdGenerator.EntityTypes.Select(CrdName);

    private static string CrdName(Type entityType)
    {
        var entity = entityType.GetCustomAttribute<KubernetesEntityAttribute>()!;
        return $"{entity.PluralName}.{entity.Group}";
    }

    public async Task InstallAsync(CancellationToken ct)
    {
        var manifests = EmbeddedManifests();
        foreach (var entityType in CrdGenerator.EntityTypes)
        {
            var name = CrdName(entityType);
            var yaml = manifests.GetValueOrDefault(CrdGenerator.FileName(entityType))
                ?? throw new InvalidOperationException($"the operator was built without config/crd/{CrdGenerator.FileName(entityType)}");
            // Apply patches travel as JSON (valid YAML), read from the manifest's nodes as kubectl reads them: no reflecting
            // YAML reader, which the natively compiled operator could not run.
            var crd = YamlJson.ReadSingle(yaml).ToJsonString();
            await kube.ApiextensionsV1.PatchCustomResourceDefinitionAsync(
                new V1Patch(crd, V1Patch.PatchType.ApplyPatch), name, fieldManager: FieldManager, force: true, cancellationToken: ct);
            log.LogInformation("Applied CustomResourceDefinition {Crd}", name);
        }

        await WaitEstablishedAsync(TimeSpan.FromSeconds(60), ct);
    }

    /// <summary>Fails with one line when a CRD is missing or not yet established.</summary>
    public async Task EnsureServedAsync(CancellationToken ct)
    {
        foreach (var name in CrdNames())
        {
            V1CustomResourceDefinition crd;
            try
            {
                crd = await kube.ApiextensionsV1.ReadCustomResourceDefinitionAsync(name, cancellationToken: ct);
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
            {
                throw new CrdInstallException(
                    $"the CustomResourceDefinition {name} is not installed: start the operator with --install-crds, or run kubectl apply --server-side -f config/crd/");
            }

            if (!IsEstablished(crd))
            {
                throw new CrdInstallException($"the CustomResourceDefinition {name} is not established yet: {ConditionText(crd)}");
            }
        }
    }

    private async Task WaitEstablishedAsync(TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        foreach (var name in CrdNames())
        {
            while (true)
            {
                var crd = await kube.ApiextensionsV1.ReadCustomResourceDefinitionAsync(name, cancellationToken: ct);
                if (IsEstablished(crd))
                {
                    break;
                }

                if (DateTime.UtcNow > deadline)
                {
                    throw new CrdInstallException($"the CustomResourceDefinition {name} was applied but is not established: {ConditionText(crd)}");
                }

                await Task.Delay(TimeSpan.FromMilliseconds(250), ct);
            }
        }
    }

    private static bool IsEstablished(V1CustomResourceDefinition crd) =>
        crd.Status?.Conditions?.Any(c => c.Type == "Established" && c.Status == "True") == true;

    private static string ConditionText(V1CustomResourceDefinition crd) =>
        string.Join("; ", crd.Status?.Conditions?.Select(c => $"{c.Type}={c.Status} {c.Reason}: {c.Message}") ?? ["no conditions yet"]);
}

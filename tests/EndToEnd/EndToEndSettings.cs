using System.Runtime.CompilerServices;
using System.Diagnostics;
using Gentoo.Tests;

namespace Gentoo.EndToEnd;

/// <summary>
/// What a person points the suite at, from the environment: a cluster (GENTOO_E2E_KUBECONFIG, else a k3s started in the
/// local Docker from a rancher/k3s image already pulled), the Gentoo image the builds run in and the operator's image
/// (both already in the cluster's runtime, or in the local Docker when k3s is used), and a storage class.
/// </summary>
public sealed record EndToEndSettings(string? Kubeconfig, string? K3sImage, string? Stage3Image, string? OperatorImage, string? StorageClass)
{
    public const string KubeconfigVariable = "GENTOO_E2E_KUBECONFIG";
    public const string Stage3Variable = "GENTOO_E2E_STAGE3_IMAGE";
    public const string OperatorVariable = "GENTOO_E2E_OPERATOR_IMAGE";
    public const string StorageClassVariable = "GENTOO_E2E_STORAGE_CLASS";

    private static readonly Lazy<EndToEndSettings> Current = new(Read);

    public static EndToEndSettings FromEnvironment => Current.Value;

    /// <summary>Why the suite cannot run here, naming what is missing; null when it can.</summary>
    public string? Missing
    {
        get
        {
            var missing = new List<string>();
            if (Kubeconfig is null && K3sImage is null)
            {
                missing.Add($"a cluster: set {KubeconfigVariable} to a kubeconfig, or have Docker with a rancher/k3s image pulled");
            }

            if (Stage3Image is null)
            {
                missing.Add($"{Stage3Variable}: a Gentoo stage3 image holding the demo repository (tests/EndToEnd/prepare-images.sh builds it)");
            }

            if (OperatorImage is null)
            {
                missing.Add($"{OperatorVariable}: the operator image (docker build -t gentoo-builder:e2e .)");
            }

            return missing.Count == 0 ? null : "needs " + string.Join("; and ", missing);
        }
    }

    private static EndToEndSettings Read()
    {
        static string? Variable(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;
        var kubeconfig = Variable(KubeconfigVariable);
        return new EndToEndSettings(kubeconfig, kubeconfig is null ? LocalK3sImage() : null, Variable(Stage3Variable), Variable(OperatorVariable), Variable(StorageClassVariable));
    }

    /// <summary>The first rancher/k3s image in the local Docker, or null (no Docker, no such image): nothing is pulled.</summary>
    private static string? LocalK3sImage()
    {
        try
        {
            using var docker = Process.Start(new ProcessStartInfo("docker", ["image", "ls", "rancher/k3s", "--format", "{{.Repository}}:{{.Tag}}"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            var images = docker.StandardOutput.ReadToEnd();
            docker.WaitForExit(10_000);
            return docker.ExitCode == 0 ? images.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // no docker command at all
        }
    }
}

/// <summary>A step of the end-to-end scenario; skipped, naming what is missing, where there is no cluster or images.</summary>
public sealed class EndToEndFactAttribute : SkippableFactAttribute
{
    public EndToEndFactAttribute([CallerMemberName] string test = "") : base(test)
    {
        if (EndToEndSettings.FromEnvironment.Missing is { } missing)
        {
            SkipBecause(missing);
        }
    }
}

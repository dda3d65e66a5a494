using System.Net.Sockets;
using k8s;
using k8s.Autorest;
using Gentoo.Connection;
using k8s.Exceptions;

namespace Gentoo.Operator.Hosting;

/// <summary>Finds the cluster the way kubectl does and proves it answers, failing with one clear line.</summary>
public static class ClusterConnection
{
    public static KubernetesClientConfiguration LoadConfiguration(OperatorOptions options, TimeProvider clock)
    {
        if (string.IsNullOrWhiteSpace(options.Kubeconfig ?? Environment.GetEnvironmentVariable("KUBECONFIG")) && KubernetesClientConfiguration.IsInCluster())
        {
            try
            {
                return KubernetesClientConfiguration.InClusterConfig();
            }
            catch (KubeConfigException e)
            {
                throw new StartupException($"in-cluster configuration is not usable: {e.Message}", e);
            }
        }

        var paths = KubeconfigFile.Candidates(options.Kubeconfig);
        var existing = paths.Where(File.Exists).Select(Path.GetFullPath).ToList();
        if (existing.Count == 0)
        {
            throw new StartupException(
                $"no cluster configuration: not running inside a cluster and no kubeconfig at {string.Join(", ", paths)} (set KUBECONFIG or --kubeconfig)");
        }

        try
        {
            // As kubectl does for a KUBECONFIG list: the files that exist, merged.
            return KubeconfigFile.Load(existing, options.Context, clock);
        }
        catch (Exception e) when (e is KubeConfigException or IOException or ArgumentException or InvalidOperationException)
        {
            throw new StartupException($"kubeconfig {string.Join(", ", existing)} is not usable: {OneLine(e.Message)}", e);
        }
    }

    /// <summary>Asks the API server for its version; any failure becomes a StartupException naming the server.</summary>
    public static async Task<string> ProbeAsync(IKubernetes kube, string host, TimeSpan timeout, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        try
        {
            var version = await kube.Version.GetCodeAsync(deadline.Token);
            return version.GitVersion;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new StartupException($"cannot reach the Kubernetes API server at {host}: no answer within {timeout.TotalSeconds:0}s");
        }
        catch (HttpOperationException e)
        {
            throw new StartupException(
                $"the Kubernetes API server at {host} answered {(int)e.Response.StatusCode} {e.Response.StatusCode}: {OneLine(e.Response.Content)}", e);
        }
        catch (Exception e) when (e is HttpRequestException or SocketException or IOException or System.Security.Authentication.AuthenticationException)
        {
            throw new StartupException($"cannot reach the Kubernetes API server at {host}: {Innermost(e)}", e);
        }
    }

    private static string Innermost(Exception e)
    {
        while (e.InnerException is not null)
        {
            e = e.InnerException;
        }

        return OneLine(e.Message);
    }

    private static string OneLine(string? text) =>
        string.IsNullOrWhiteSpace(text) ? "(no message)" : string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries)).Trim();
}

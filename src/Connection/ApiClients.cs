using k8s;

namespace Gentoo.Connection;

/// <summary>The one way gentoo-operator and kubectl-gentoo make their API clients, so that each behaves as client-go does.</summary>
public static class ApiClients
{
    /// <summary>
    /// A client of the API server <paramref name="configuration"/> names that waits and asks again where the server says
    /// when (<see cref="RetryAfterHandler"/>) and checks the server's certificate against its tls-server-name on every
    /// request, the watches' too (<see cref="ServerNameHandler"/>).
    /// </summary>
    public static Kubernetes Create(KubernetesClientConfiguration configuration, TimeProvider clock) =>
        string.IsNullOrWhiteSpace(configuration.TlsServerName)
            ? new(configuration, new RetryAfterHandler(clock))
            : new(configuration, new RetryAfterHandler(clock), new ServerNameHandler(configuration.TlsServerName));
}

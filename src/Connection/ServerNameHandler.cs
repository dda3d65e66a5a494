namespace Gentoo.Connection;

/// <summary>
/// The kubeconfig's tls-server-name on every request through the client's HTTP client: the name the server's
/// certificate is checked against (.NET takes it from the Host header). KubernetesClient sets it on the requests it makes
/// itself; the informers' watches, read without it (<c>Gentoo.Runtime.WatchStream</c>), go through the same HTTP client
/// and would check the certificate against the address instead.
/// </summary>
public sealed class ServerNameHandler(string serverName) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Headers.Host = serverName;
        return base.SendAsync(request, cancellationToken);
    }
}

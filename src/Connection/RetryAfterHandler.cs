using System.Globalization;
using System.Net;

namespace Gentoo.Connection;

/// <summary>
/// Asks again when the API server says when to: a 429, or any 5xx, with a Retry-After of whole seconds means the server
/// did not take the request (priority and fairness throttling it, a server starting or shutting down) and tells the
/// client how long to wait. client-go waits and asks again up to ten times before a caller sees the error; KubernetesClient
/// does not, so without this one throttled request fails a whole reconcile and sends the object into backoff. Errors
/// without Retry-After are the caller's to judge (a 500 may have been half done).
/// </summary>
public sealed class RetryAfterHandler(TimeProvider clock) : DelegatingHandler
{
    /// <summary>client-go's default.</summary>
    public const int MaxRetries = 10;

    /// <summary>The longest wait honoured: a server asking for more gets the error passed on, to be retried by the caller's own backoff.</summary>
    public static readonly TimeSpan LongestWait = TimeSpan.FromSeconds(30);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        byte[]? body = null;
        for (var retries = 0; retries < MaxRetries && WaitAskedFor(response) is { } wait; retries++)
        {
            response.Dispose();
            // A request message is sent once, so a retry sends a copy with the same bytes; read only when one is needed
            // (the client's bodies are buffered strings, readable again after they were sent).
            body ??= request.Content is null ? null : await request.Content.ReadAsByteArrayAsync(cancellationToken);
            await Task.Delay(wait, clock, cancellationToken);
            response = await base.SendAsync(Copy(request, body), cancellationToken);
        }

        return response;
    }

    /// <summary>How long the server asked to wait before the request is sent again; null when it did not ask.</summary>
    public static TimeSpan? WaitAskedFor(HttpResponseMessage response)
    {
        if (response.StatusCode != HttpStatusCode.TooManyRequests && (int)response.StatusCode < 500)
        {
            return null;
        }

        // client-go reads only whole seconds, never an HTTP date.
        return response.Headers.TryGetValues("Retry-After", out var values)
            && int.TryParse(values.FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            && TimeSpan.FromSeconds(seconds) <= LongestWait
            ? TimeSpan.FromSeconds(seconds)
            : null;
    }

    private static HttpRequestMessage Copy(HttpRequestMessage request, byte[]? body)
    {
        var copy = new HttpRequestMessage(request.Method, request.RequestUri) { Version = request.Version, VersionPolicy = request.VersionPolicy };
        foreach (var (name, values) in request.Headers)
        {
            copy.Headers.TryAddWithoutValidation(name, values);
        }

        foreach (var (key, value) in request.Options)
        {
            ((IDictionary<string, object?>)copy.Options)[key] = value;
        }

        if (body is not null)
        {
            copy.Content = new ByteArrayContent(body);
            foreach (var (name, values) in request.Content!.Headers)
            {
                copy.Content.Headers.TryAddWithoutValidation(name, values);
            }
        }

        return copy;
    }
}

using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using k8s;
using k8s.Autorest;

namespace Gentoo.Runtime;

/// <summary>
/// Requests the operator sends itself, on KubernetesClient's HTTP client and credentials: a status write a thousand
/// times in a burst is worth its bytes. KubernetesClient serializes a body to a string and reads the answer as one before
/// decoding it; these write and read UTF-8 directly with the client's own JSON contracts.
/// </summary>
public static class ApiRequest
{
    /// <summary>KubernetesClient's JSON options, with the contracts registered at start (Gentoo.Connection.ClientJson).</summary>
    public static JsonSerializerOptions ClientOptions()
    {
        JsonSerializerOptions options = null!;
        KubernetesJson.AddJsonOptions(o => options = o);
        return options;
    }

    /// <summary>KubernetesClient's JSON contract for <typeparamref name="T"/>.</summary>
    public static JsonTypeInfo<T> ContractOf<T>() => (JsonTypeInfo<T>)ClientOptions().GetTypeInfo(typeof(T));

    /// <summary>
    /// Sends <paramref name="body"/> and decodes the answer as a <typeparamref name="T"/>; an answer other than 2xx throws
    /// <see cref="HttpOperationException"/> as the client's own calls do (a 409 Conflict, a 404).
    /// </summary>
    public static async Task<T> SendAsync<T>(IKubernetes kube, HttpMethod method, string relativeUri, T body, JsonTypeInfo<T> contract, CancellationToken ct)
        where T : class
    {
        var client = Client(kube);
        using var request = new HttpRequestMessage(method, new Uri(client.BaseUri, relativeUri))
        {
            Version = System.Net.HttpVersion.Version20, // as the client's requests: HTTP/2 where the server offers it
            Content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(body, contract)) { Headers = { ContentType = new MediaTypeHeaderValue("application/json", "utf-8") } },
        };
        // Bounded as the client bounds its own requests (its HttpClientTimeout, 100 s unless configured).
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(client.HttpClientTimeout);
        using var response = await SendAsync(client, request, deadline.Token);
        await using var answer = await response.Content.ReadAsStreamAsync(deadline.Token);
        return await JsonSerializer.DeserializeAsync(answer, contract, deadline.Token)
            ?? throw new JsonException($"{method} {relativeUri} was answered with null");
    }

    /// <summary>Sends the request with the client's credentials; the response when it is 2xx, else <see cref="HttpOperationException"/>.</summary>
    public static async Task<HttpResponseMessage> SendAsync(Kubernetes client, HttpRequestMessage request, CancellationToken ct)
    {
        if (client.Credentials is { } credentials)
        {
            await credentials.ProcessHttpRequestAsync(request, ct);
        }

        var response = await client.HttpClient.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(ct);
            // As KubernetesClient builds it (its builder is not public): callers tell a conflict or a 404 by the response's status.
            throw new HttpOperationException($"Operation returned an invalid status code '{response.StatusCode}', response body {text}")
            {
                Request = new HttpRequestMessageWrapper(request, ""),
                Response = new HttpResponseMessageWrapper(response, text),
            };
        }
    }

    /// <summary>KubernetesClient's client, whose HTTP client, base address and credentials the requests use.</summary>
    public static Kubernetes Client(IKubernetes kube) =>
        kube as Kubernetes ?? throw new ArgumentException($"requests of our own need KubernetesClient's {nameof(Kubernetes)}, not {kube.GetType().Name}", nameof(kube));
}

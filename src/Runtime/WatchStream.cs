using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Gentoo.Runtime;

/// <summary>
/// A watch request and its stream of events, read as the API server sends them: one JSON event per line, each decoded
/// once from its UTF-8 bytes. KubernetesClient's watcher decodes every line twice from a string (once to tell a Status
/// from an object, then as the object) and was a sixth of the operator's CPU with a thousand runs queued.
/// </summary>
public static class WatchStream
{
    private static ReadOnlySpan<byte> TypeProperty => "type"u8;

    private static ReadOnlySpan<byte> ErrorType => "ERROR"u8;

    /// <summary>
    /// Watches <paramref name="kind"/> in <paramref name="ns"/> (all namespaces when null) from <paramref name="resourceVersion"/>.
    /// The request goes as KubernetesClient sends its own (its HTTP client and credentials; the server name to check the
    /// certificate against is the HTTP client's, see Gentoo.Connection.ServerNameHandler); an answer other than
    /// 2xx throws <see cref="HttpOperationException"/> as the client's calls do, a Status event (410 Gone, say) goes to
    /// <paramref name="onError"/> as a <see cref="KubernetesException"/>, and so does an event that cannot be read, which is
    /// skipped.
    /// </summary>
    public static async IAsyncEnumerable<(WatchEventType Type, T Object)> WatchAsync<T>(
        IKubernetes kube, KindInfo kind, string? ns, string resourceVersion, TimeSpan timeout, string? labelSelector, Action<Exception> onError,
        [EnumeratorCancellation] CancellationToken ct)
        where T : class
    {
        var client = ApiRequest.Client(kube);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(client.BaseUri, RelativeUri(kind, ns, resourceVersion, timeout, labelSelector)))
        {
            Version = System.Net.HttpVersion.Version20, // as the client's requests: HTTP/2 where the server offers it
        };
        using var response = await ApiRequest.SendAsync(client, request, ct);
        var options = ApiRequest.ClientOptions();
        var events = (JsonTypeInfo<Watcher<T>.WatchEvent>)options.GetTypeInfo(typeof(Watcher<T>.WatchEvent));
        // Segments larger than an event: a line seldom straddles two, and one that does is copied.
        var reader = PipeReader.Create(await response.Content.ReadAsStreamAsync(ct), new StreamPipeReaderOptions(bufferSize: 64 * 1024));
        try
        {
            while (true)
            {
                var read = await reader.ReadAsync(ct);
                var buffer = read.Buffer;
                while (buffer.PositionOf((byte)'\n') is { } end)
                {
                    var line = buffer.Slice(0, end);
                    buffer = buffer.Slice(buffer.GetPosition(1, end));
                    if (Decode(line, events, options, onError) is { } decoded)
                    {
                        yield return (decoded.Type, decoded.Object);
                    }
                }

                if (read.IsCompleted)
                {
                    // The server ended the watch (its timeout): a last event without a newline is still one.
                    if (!buffer.IsEmpty && Decode(buffer, events, options, onError) is { } last)
                    {
                        yield return (last.Type, last.Object);
                    }

                    break;
                }

                reader.AdvanceTo(buffer.Start, buffer.End);
            }
        }
        finally
        {
            await reader.CompleteAsync();
        }
    }

    /// <summary>The request's path and query, relative to the API server's base URI.</summary>
    public static string RelativeUri(KindInfo kind, string? ns, string resourceVersion, TimeSpan timeout, string? labelSelector)
    {
        var path = new StringBuilder(kind.CollectionPath(ns)).Append("?watch=true&allowWatchBookmarks=true");
        path.Append("&resourceVersion=").Append(Uri.EscapeDataString(resourceVersion));
        path.Append("&timeoutSeconds=").Append(((int)timeout.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (labelSelector is not null)
        {
            path.Append("&labelSelector=").Append(Uri.EscapeDataString(labelSelector));
        }

        return path.ToString();
    }

    /// <summary>One event's line: the event, or null when it was a Status or could not be read (told to <paramref name="onError"/>).</summary>
    public static Watcher<T>.WatchEvent? Decode<T>(
        ReadOnlySequence<byte> line, JsonTypeInfo<Watcher<T>.WatchEvent> events, JsonSerializerOptions options, Action<Exception> onError)
    {
        var bytes = line.IsSingleSegment ? line.FirstSpan : line.ToArray();
        if (bytes.Trim((byte)'\r').IsEmpty)
        {
            return null;
        }

        try
        {
            if (IsError(bytes))
            {
                var status = JsonSerializer.Deserialize(bytes, (JsonTypeInfo<Watcher<V1Status>.WatchEvent>)options.GetTypeInfo(typeof(Watcher<V1Status>.WatchEvent)));
                onError(new KubernetesException(status?.Object ?? new V1Status { Message = Encoding.UTF8.GetString(bytes) }));
                return null;
            }

            return JsonSerializer.Deserialize(bytes, events) is { Object: not null } decoded ? decoded
                : throw new JsonException($"a watch event without an object: {Encoding.UTF8.GetString(bytes)}");
        }
        catch (JsonException e)
        {
            onError(e);
            return null;
        }
    }

    /// <summary>Whether the event's type is ERROR (its object a Status, not a <c>T</c>): the API server writes the type first.</summary>
    private static bool IsError(ReadOnlySpan<byte> line)
    {
        var json = new Utf8JsonReader(line);
        if (!json.Read() || json.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException("a watch event that is not a JSON object");
        }

        while (json.Read() && json.TokenType == JsonTokenType.PropertyName)
        {
            var isType = json.ValueTextEquals(TypeProperty);
            if (!json.Read())
            {
                break;
            }

            if (isType)
            {
                return json.TokenType == JsonTokenType.String && json.ValueTextEquals(ErrorType);
            }

            json.Skip();
        }

        return false;
    }
}

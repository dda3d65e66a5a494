using System.IO.Pipelines;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Gentoo.ApiServer.Api;
using Microsoft.AspNetCore.Http;

namespace Gentoo.ApiServer;

/// <summary>A terminal's size, as `kubectl exec -t` sends it when it changes.</summary>
public readonly record struct TerminalSize(uint Width, uint Height);

/// <summary>The streams of one exec: what the client types (null without -i), what the command writes, terminal sizes.</summary>
public sealed record ExecStreams(bool Tty, Stream? Stdin, Stream Stdout, Stream Stderr, ChannelReader<TerminalSize> Resizes);

/// <summary>What a kubelet does for pods/NAME/exec: runs a command in a container and says how it ended.</summary>
public interface IPodExec
{
    /// <summary>Runs <paramref name="command"/> in <paramref name="container"/> of <paramref name="pod"/> and returns its exit code.</summary>
    Task<int> ExecAsync(JsonObject pod, string container, IReadOnlyList<string> command, ExecStreams streams, CancellationToken ct);
}

/// <summary>
/// The exec subresource over WebSocket, as kubectl (1.29 and later) and client-go speak it: the channel.k8s.io
/// subprotocols, one binary message per chunk with its channel in the first byte (0 stdin, 1 stdout, 2 stderr, 3 the
/// final Status, 4 terminal size; v5 adds 255 to close a channel), the exit code in the Status.
/// </summary>
internal static class PodExecSession
{
    private static readonly string[] Protocols = ["v5.channel.k8s.io", "v4.channel.k8s.io"];
    private const byte StdinChannel = 0;
    private const byte StdoutChannel = 1;
    private const byte StderrChannel = 2;
    private const byte StatusChannel = 3;
    private const byte ResizeChannel = 4;
    private const byte CloseChannel = 255;

    public static async Task RunAsync(HttpContext context, IPodExec exec, JsonObject pod, string container, IReadOnlyList<string> command, bool stdin, bool tty)
    {
        var protocol = Protocols.FirstOrDefault(context.WebSockets.WebSocketRequestedProtocols.Contains)
            ?? throw ApiException.BadRequest($"exec speaks the WebSocket subprotocols {string.Join(", ", Protocols)}; the client offered {string.Join(", ", context.WebSockets.WebSocketRequestedProtocols)}");
        using var socket = await context.WebSockets.AcceptWebSocketAsync(protocol);
        var ct = context.RequestAborted;
        var sendGate = new SemaphoreSlim(1, 1);
        var input = new Pipe();
        var resizes = Channel.CreateUnbounded<TerminalSize>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var receiving = ReceiveAsync(socket, input.Writer, resizes.Writer, stop.Token);
        int exitCode;
        string? failure = null;
        try
        {
            var streams = new ExecStreams(tty, stdin ? input.Reader.AsStream() : null,
                new ChannelStream(socket, StdoutChannel, sendGate), new ChannelStream(socket, StderrChannel, sendGate), resizes.Reader);
            exitCode = await exec.ExecAsync(pod, container, command, streams, stop.Token);
        }
        catch (ApiException e)
        {
            (exitCode, failure) = (-1, e.Message);
        }

        var status = failure is not null
            ? new JsonObject { ["metadata"] = new JsonObject(), ["status"] = "Failure", ["message"] = failure, ["reason"] = "InternalError" }
            : exitCode == 0
                ? new JsonObject { ["metadata"] = new JsonObject(), ["status"] = "Success" }
                : new JsonObject
                {
                    ["metadata"] = new JsonObject(),
                    ["status"] = "Failure",
                    ["message"] = $"command terminated with non-zero exit code: exit status {exitCode}",
                    ["reason"] = "NonZeroExitCode",
                    ["details"] = new JsonObject { ["causes"] = new JsonArray(new JsonObject { ["reason"] = "ExitCode", ["message"] = exitCode.ToString(System.Globalization.CultureInfo.InvariantCulture) }) },
                };
        await SendAsync(socket, StatusChannel, Encoding.UTF8.GetBytes(status.ToJsonString()), sendGate, ct);
        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, ct);
        // The client answers the close once it has read everything; going before that resets the connection, and a
        // client reading the Status from its buffer then loses it.
        await Task.WhenAny(receiving, Task.Delay(TimeSpan.FromSeconds(5), ct)).ContinueWith(_ => { }, TaskScheduler.Default);
        await stop.CancelAsync();
        await receiving.ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private static async Task ReceiveAsync(WebSocket socket, PipeWriter stdin, ChannelWriter<TerminalSize> resizes, CancellationToken ct)
    {
        var buffer = new byte[32 * 1024];
        using var message = new MemoryStream();
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var received = await socket.ReceiveAsync(buffer, ct);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }

                message.Write(buffer, 0, received.Count);
                if (!received.EndOfMessage)
                {
                    continue;
                }

                var data = message.ToArray();
                message.SetLength(0);
                switch (data)
                {
                    case [StdinChannel, .. var typed]:
                        await stdin.WriteAsync(typed, ct);
                        break;
                    case [ResizeChannel, .. var size]:
                        var json = JsonNode.Parse(size);
                        resizes.TryWrite(new TerminalSize(json?["Width"]?.GetValue<uint>() ?? 80, json?["Height"]?.GetValue<uint>() ?? 24));
                        break;
                    case [CloseChannel, StdinChannel, ..]:
                        await stdin.CompleteAsync();
                        break;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException)
        {
        }
        finally
        {
            await stdin.CompleteAsync();
            resizes.TryComplete();
        }
    }

    private static async Task SendAsync(WebSocket socket, byte channel, ReadOnlyMemory<byte> data, SemaphoreSlim gate, CancellationToken ct)
    {
        var framed = new byte[data.Length + 1];
        framed[0] = channel;
        data.CopyTo(framed.AsMemory(1));
        await gate.WaitAsync(ct);
        try
        {
            await socket.SendAsync(framed, WebSocketMessageType.Binary, endOfMessage: true, ct);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>A write-only stream whose writes become messages on one channel.</summary>
    private sealed class ChannelStream(WebSocket socket, byte channel, SemaphoreSlim gate) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (buffer.Length > 0)
            {
                await SendAsync(socket, channel, buffer, gate, cancellationToken);
            }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }
}

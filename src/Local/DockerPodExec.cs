using System.Text.Json.Nodes;
using Docker.DotNet;
using Docker.DotNet.Models;
using Gentoo.ApiServer;
using Gentoo.ApiServer.Api;
using k8s;
using k8s.Models;

namespace Gentoo.Local;

/// <summary>pods/NAME/exec as `docker exec`: the command in the pod's container, its streams and terminal, its exit code.</summary>
public sealed class DockerPodExec(IDockerClient docker) : IPodExec
{
    public async Task<int> ExecAsync(JsonObject pod, string container, IReadOnlyList<string> command, ExecStreams streams, CancellationToken ct)
    {
        var (typed, name) = LocalNames.Container(pod, container);
        ContainerExecCreateResponse created;
        try
        {
            created = await docker.Exec.CreateContainerExecAsync(name, new ContainerExecCreateParameters
            {
                Cmd = [.. command],
                AttachStdin = streams.Stdin is not null,
                AttachStdout = true,
                AttachStderr = true,
                TTY = streams.Tty,
            }, ct);
        }
        catch (DockerApiException e)
        {
            throw ApiException.BadRequest($"container {container} of pod {typed.Metadata.Name} cannot run a command: {e.Message}");
        }

        using var attached = await docker.Exec.StartContainerExecAsync(created.ID, new ContainerExecStartParameters { TTY = streams.Tty }, ct);
        using var done = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var typing = streams.Stdin is { } stdin ? Task.Run(() => TypeAsync(stdin, attached, done.Token), CancellationToken.None) : Task.CompletedTask;
        var resizing = Task.Run(async () =>
        {
            await foreach (var size in streams.Resizes.ReadAllAsync(done.Token))
            {
                await docker.Exec.ResizeExecTtyAsync(created.ID, new ContainerResizeParameters { Width = size.Width, Height = size.Height }, done.Token);
            }
        }, CancellationToken.None);

        var buffer = new byte[32 * 1024];
        while (true)
        {
            var read = await attached.ReadOutputAsync(buffer, 0, buffer.Length, ct);
            if (read.EOF)
            {
                break;
            }

            await (read.Target == MultiplexedStream.TargetStream.StandardError ? streams.Stderr : streams.Stdout).WriteAsync(buffer.AsMemory(0, read.Count), ct);
        }

        await done.CancelAsync();
        await Task.WhenAll(typing, resizing).ContinueWith(_ => { }, TaskScheduler.Default);
        var inspected = await docker.Exec.InspectContainerExecAsync(created.ID, ct);
        return (int)(inspected.ExitCode ?? -1);
    }

    private static async Task TypeAsync(Stream stdin, MultiplexedStream attached, CancellationToken ct)
    {
        var buffer = new byte[4096];
        int count;
        while ((count = await stdin.ReadAsync(buffer, ct)) > 0)
        {
            await attached.WriteAsync(buffer, 0, count, ct);
        }

        attached.CloseWrite();
    }
}

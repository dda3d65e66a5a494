using System.Globalization;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Protocol;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Decisions;

/// <summary>
/// A builder's releases as the operator decides on them: what build pods are told (publish the release they make or
/// not, what retention keeps), when a person's publish request needs a publish pod, and the status a pod's report
/// leaves. The releases themselves live on the binpkgs volume; pods report them.
/// </summary>
public static class Releases
{
    public const int DefaultKeep = 5;

    /// <summary>The release a person asked to publish (gentoobuilder.io/publish), if any.</summary>
    public static string? Requested(GentooBuilder builder) =>
        RequestTokens.Of(builder, RequestAnnotations.Publish)?.Trim() is { Length: > 0 } id ? id : null;

    /// <summary>Whether a build publishes the release it makes: under autoPublish, unless a person chose a release.</summary>
    public static bool BuildPublishes(GentooBuilder builder) => builder.Spec.Releases?.AutoPublish != false && Requested(builder) is null;

    /// <summary>
    /// The release a publish pod should publish now, or null: the one a person asked for, else (under autoPublish,
    /// once the request is gone) the newest kept one. A release already published, or already tried, is not asked again.
    /// </summary>
    public static string? PendingPublish(GentooBuilder builder)
    {
        var releases = builder.Status.Releases;
        var target = Requested(builder) ?? (builder.Spec.Releases?.AutoPublish != false ? releases?.Kept?.LastOrDefault()?.Id : null);
        return target is not null && target != releases?.Published && target != releases?.LastHandledPublish ? target : null;
    }

    /// <summary>Release ids a person marked to keep (gentoobuilder.io/keep-releases: "3,7").</summary>
    public static IReadOnlyList<string> Marked(GentooBuilder builder) =>
        RequestAnnotations.ReleaseIds(RequestTokens.Of(builder, RequestAnnotations.KeepReleases));

    /// <summary>The agent's retention arguments, shared by build and publish pods.</summary>
    public static IEnumerable<string> RetentionArguments(GentooBuilder builder) =>
    [
        "--keep-releases", (builder.Spec.Releases?.Keep ?? DefaultKeep).ToString(CultureInfo.InvariantCulture),
        .. Marked(builder).SelectMany(id => new[] { "--keep-release", id }),
    ];

    /// <summary>A build pod's release arguments: which run it is, whether it publishes, what retention keeps.</summary>
    public static IEnumerable<string> BuildArguments(BuildRun run, GentooBuilder builder) =>
    [
        "--release-run", $"{run.Namespace()}/{run.Name()}",
        .. builder.Status.ConfigDigest is { } digest ? new[] { "--config-digest", digest } : [],
        "--publish", BuildPublishes(builder) ? "newest" : "none",
        .. builder.Spec.Releases?.PublishPartial == true ? new[] { "--release-partial" } : [],
        .. RetentionArguments(builder),
    ];

    /// <summary>The builder's status after a pod's report of the releases on the volume (nothing known: as it was).</summary>
    public static void Apply(GentooBuilderStatus status, ReportReleases? report, DateTime now)
    {
        if (report is null || (report.Kept.Count == 0 && report.Published is null))
        {
            return;
        }

        status.Releases ??= new BuilderReleases();
        status.Releases.Published = report.Published;
        status.Releases.Kept = [.. report.Kept.Select(r => new ReleaseSummary
        {
            Id = r.Id,
            Created = r.Created.UtcDateTime,
            Run = r.Run,
            Packages = r.Packages,
            Added = r.Added,
            Removed = r.Removed,
            Changed = r.Changed,
            Partial = r.Partial ? true : null,
        })];
        if (report.Purged is { Releases: > 0 } purged)
        {
            status.Releases.LastPurge = new ReleasePurge { Time = now, Releases = purged.Releases, Files = purged.Files, Bytes = purged.Bytes };
        }
    }

    /// <summary>The Event a purge deserves, if it removed anything.</summary>
    public static string? PurgeMessage(ReportReleases? report) =>
        report?.Purged is { Releases: > 0 } purged
            ? $"{purged.Releases} release(s) no longer kept; {purged.Files} package file(s) no kept release needs purged, {purged.Bytes.ToString("N0", CultureInfo.InvariantCulture)} bytes freed"
            : null;
}

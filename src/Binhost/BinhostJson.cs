using System.Text.Json;
using System.Text.Json.Serialization;
using Gentoo.Portage.Releases;
using Microsoft.AspNetCore.Http;

namespace Gentoo.Binhost;

/// <summary>What went wrong, for a person: <c>{"error": "..."}</c>.</summary>
internal sealed record ErrorAnswer(string Error);

/// <summary>The kernel packages and what they need; the kernel asked about, when one was.</summary>
internal sealed record KernelAnswer(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Kernel,
    IReadOnlyList<PackageKernelRequirement> Packages);

/// <summary>A release in the list: its id, when and by which run it was made, and how it differs from the one before.</summary>
internal sealed record ReleaseEntry(string Id, DateTimeOffset Created, string? Run, int Packages, int Added, int Removed, int Changed, bool Partial)
{
    public static ReleaseEntry Of(Release release) =>
        new(release.Id, release.Created, release.Run, release.Packages, release.Added, release.Removed, release.Changed, release.Partial);
}

internal sealed record ReleasesAnswer(string? Published, IEnumerable<ReleaseEntry> Releases);

internal sealed record ReleaseAnswer(ReleaseEntry Release, IReadOnlyList<ReleaseRepository> Repositories, IEnumerable<string> Changes);

internal sealed record DiffAnswer(string From, string To, IEnumerable<string> Changes);

/// <summary>The answer to a build request: the BuildRun made or joined (none when everything is built), and the packages.</summary>
internal sealed record BuildAnswer(string? BuildRun, bool Created, IReadOnlyList<string> Packages, IReadOnlyList<string> Available);

/// <summary>
/// The binhost's JSON answers, their contracts generated at compile time (the binhost runs as native code, which cannot
/// build them by reflection); named, camelCase as ASP.NET Core writes them.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(ErrorAnswer))]
[JsonSerializable(typeof(KernelAnswer))]
[JsonSerializable(typeof(ReleasesAnswer))]
[JsonSerializable(typeof(ReleaseAnswer))]
[JsonSerializable(typeof(DiffAnswer))]
[JsonSerializable(typeof(BuildAnswer))]
internal sealed partial class BinhostJson : JsonSerializerContext
{
    public static IResult Error(string message, int statusCode) => Results.Json(new ErrorAnswer(message), Default.ErrorAnswer, statusCode: statusCode);
}

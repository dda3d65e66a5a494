using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Gentoo.Portage.Releases;

/// <summary>One binary package instance: its CPV and build id (binpkg-multi-instance numbers the builds of a CPV).</summary>
public sealed record PackageInstance(string Cpv, long BuildId)
{
    public override string ToString() => $"{Cpv} (build {BuildId})";
}

/// <summary>How a package (category/name:slot) differs between two releases: added (no Before), removed (no After) or changed.</summary>
public sealed record PackageChange(string Package, PackageInstance? Before, PackageInstance? After);

/// <summary>A repository a release was built from: its snapshot commit and tree, and the revision the repository itself named.</summary>
public sealed record ReleaseRepository(string Name, string Commit, string Tree, string? Source);

/// <summary>
/// A release: the binary package instances the builder's world needed after a successful run (its own Packages index
/// beside this record), the repositories they were built from, and what changed since the release before.
/// </summary>
public sealed record Release
{
    public required string Id { get; init; }

    public required DateTimeOffset Created { get; init; }

    /// <summary>The run that made it (namespace/name of the BuildRun, or what the caller names).</summary>
    public string? Run { get; init; }

    public string? ConfigDigest { get; init; }

    /// <summary>Made by a --keep-going run in which some packages failed (spec.releases.publishPartial).</summary>
    public bool Partial { get; init; }

    public required int Packages { get; init; }

    public string? Previous { get; init; }

    public IReadOnlyList<ReleaseRepository> Repositories { get; init => field = value ?? []; } = [];

    public IReadOnlyList<PackageChange> Changes { get; init => field = value ?? []; } = [];

    public int Added => Changes.Count(c => c.Before is null);

    public int Removed => Changes.Count(c => c.After is null);

    public int Changed => Changes.Count(c => c.Before is not null && c.After is not null);

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
        TypeInfoResolver = ReleaseJson.Default,
    };

    // Generated at compile time (ReleaseJson), shaped by the options above: the operator's binhost is native code, which
    // cannot build contracts by reflection. A generated contract sets absent init-only lists to null: they turn it into empty.
    private static readonly JsonTypeInfo<Release> Contract = (JsonTypeInfo<Release>)Json.GetTypeInfo(typeof(Release));

    internal static readonly JsonTypeInfo<Publication> PublicationContract = (JsonTypeInfo<Publication>)Json.GetTypeInfo(typeof(Publication));

    public string ToJson() => JsonSerializer.Serialize(this, Contract);

    public static Release Parse(string json) => JsonSerializer.Deserialize(json, Contract) ?? throw new InvalidDataException("release.json is null");

    /// <summary>Release ids are numbers counting up; this orders them so.</summary>
    public static int CompareIds(string a, string b) =>
        (long.TryParse(a, out var x), long.TryParse(b, out var y)) is (true, true) ? x.CompareTo(y) : string.CompareOrdinal(a, b);
}

/// <summary>The published release and, per repository, the commit clients following the binhost's repository get.</summary>
public sealed record Publication(string Release, DateTimeOffset Time, IReadOnlyDictionary<string, string> Commits);

/// <summary>What a purge removed: releases no longer kept, the package files only they referenced, and the bytes freed.</summary>
public sealed record PurgeResult(IReadOnlyList<string> Releases, IReadOnlyList<string> Files, long Bytes);

/// <summary>The release record's and the publication's JSON contracts, generated at compile time.</summary>
[JsonSerializable(typeof(Release))]
[JsonSerializable(typeof(Publication))]
internal sealed partial class ReleaseJson : JsonSerializerContext;

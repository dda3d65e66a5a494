using System.Globalization;
using Gentoo.Portage.Atoms;
using Gentoo.Protocol;

namespace Gentoo.Agent;

/// <summary>Bad command-line input: one line that names the argument and what would be valid.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>What the operator asked the agent to do, from the container's arguments.</summary>
public sealed record AgentOptions
{
    public required AgentStep Step { get; init; }

    /// <summary>The Gentoo root (the root volume's mount point).</summary>
    public string Root { get; init; } = AgentPod.RootMount;

    /// <summary>The mounted ConfigMap with the desired Portage configuration; none leaves /etc/portage alone.</summary>
    public string? ConfigDirectory { get; init; }

    /// <summary>Directories laid out like /etc/portage (configFrom git checkouts), applied after the ConfigMap keys, in order.</summary>
    public List<string> ConfigTrees { get; init; } = [];

    /// <summary>Run emerge directly instead of in a chroot of <see cref="Root"/> (the container's own root is the Gentoo system).</summary>
    public bool NoChroot { get; init; }

    /// <summary>
    /// Where the stage3 filesystem is that fills an empty root volume (the bootstrap's container's own /). Without it an
    /// empty root is an error: filling a root is a deliberate act, never a fallback.
    /// </summary>
    public string? PopulateFrom { get; init; }

    /// <summary>The binary package volume's mount point in the container, bound at /var/cache/binpkgs.</summary>
    public string? Binpkgs { get; init; }

    /// <summary>The source archive volume's mount point, bound at /var/cache/distfiles.</summary>
    public string? Distfiles { get; init; }

    /// <summary>The repository volume's mount point, bound at /var/db/repos.</summary>
    public string? Repos { get; init; }

    /// <summary>The emerge executable, as seen from inside the root.</summary>
    public string Emerge { get; init; } = "/usr/bin/emerge";

    /// <summary>The emaint executable, as seen from inside the root.</summary>
    public string Emaint { get; init; } = "/usr/sbin/emaint";

    /// <summary>The gpg executable, as seen from inside the root.</summary>
    public string Gpg { get; init; } = "/usr/bin/gpg";

    /// <summary>The bootstrap plan (bootstrap.json of the mounted ConfigMap).</summary>
    public string? Plan { get; init; }

    public List<string> Packages { get; init; } = [];

    public List<string> EmergeArgs { get; init; } = [];

    public bool KeepGoing { get; init; }

    /// <summary>For build: sync the repositories first (a scheduled build of the newest tree).</summary>
    public bool Sync { get; init; }

    public int? Cpus { get; init; }

    /// <summary>For build: the armored OpenPGP secret key binary packages are signed with (a mounted Secret).</summary>
    public string? SigningKey { get; init; }

    /// <summary>How wide proposed keyword and license changes are written (the builder's keywordScope).</summary>
    public AtomScope KeywordScope { get; init; } = AtomScope.Slot;

    /// <summary>For build: the run a release is made for (NAMESPACE/NAME); without it a build makes no release.</summary>
    public string? ReleaseRun { get; init; }

    /// <summary>The configuration digest the release records.</summary>
    public string? ConfigDigest { get; init; }

    /// <summary>For build: "newest" publishes the release it makes, "none" leaves publishing to a person. For publish: the release id.</summary>
    public string? Publish { get; init; }

    /// <summary>For build: a --keep-going run with failures still makes a release (spec.releases.publishPartial).</summary>
    public bool ReleasePartial { get; init; }

    /// <summary>How many of the newest releases retention keeps.</summary>
    public int KeepReleases { get; init; } = 5;

    /// <summary>Releases a person marked to keep beyond that.</summary>
    public List<string> KeepRelease { get; init; } = [];

    /// <summary>Where the compact report goes (the container's terminationMessagePath).</summary>
    public string TerminationLog { get; init; } = AgentPod.TerminationLog;

    /// <summary>How long emerge may take to stop after SIGTERM before it is killed.</summary>
    public TimeSpan GracePeriod { get; init; } = TimeSpan.FromSeconds(90);

    public static AgentOptions Parse(IReadOnlyList<string> args)
    {
        if (args.Count == 0 || args[0].StartsWith('-'))
        {
            throw new UsageException($"missing step: expected one of {string.Join(", ", AgentSteps.Names)} as the first argument");
        }

        if (!AgentSteps.TryParse(args[0], out var step))
        {
            throw new UsageException($"unknown step '{args[0]}': expected one of {string.Join(", ", AgentSteps.Names)}");
        }

        var options = new AgentOptions { Step = step };
        for (var i = 1; i < args.Count; i++)
        {
            var name = args[i];
            string Value() => i + 1 < args.Count ? args[++i] : throw new UsageException($"{name} needs a value");
            options = name switch
            {
                "--root" => options with { Root = Value() },
                "--config" => options with { ConfigDirectory = Value() },
                "--config-tree" => options.With(o => o.ConfigTrees.Add(Value())),
                "--no-chroot" => options with { NoChroot = true },
                "--populate-from" => options with { PopulateFrom = Value() },
                "--binpkgs" => options with { Binpkgs = Value() },
                "--distfiles" => options with { Distfiles = Value() },
                "--repos" => options with { Repos = Value() },
                "--emerge" => options with { Emerge = Value() },
                "--emaint" => options with { Emaint = Value() },
                "--plan" => options with { Plan = Value() },
                "--package" => options.With(o => o.Packages.Add(Value())),
                "--emerge-arg" => options.With(o => o.EmergeArgs.Add(Value())),
                "--keep-going" => options with { KeepGoing = true },
                "--sync" => options with { Sync = true },
                "--cpus" => options with { Cpus = int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out var cpus) && cpus > 0 ? cpus : throw new UsageException($"--cpus {args[i]}: expected a whole number of CPUs above 0") },
                "--signing-key" => options with { SigningKey = Value() },
                "--release-run" => options with { ReleaseRun = Value() },
                "--config-digest" => options with { ConfigDigest = Value() },
                "--publish" => options with { Publish = Value() },
                "--release-partial" => options with { ReleasePartial = true },
                "--keep-releases" => options with { KeepReleases = int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out var keep) && keep > 0 ? keep : throw new UsageException($"--keep-releases {args[i]}: expected a whole number above 0") },
                "--keep-release" => options.With(o => o.KeepRelease.Add(Value())),
                "--termination-log" => options with { TerminationLog = Value() },
                "--keyword-scope" => options with { KeywordScope = Enum.TryParse<AtomScope>(Value(), ignoreCase: false, out var scope) && Enum.IsDefined(scope) ? scope : throw new UsageException($"--keyword-scope {args[i]}: expected Version, Slot or Package") },
                "--grace-period" => options with { GracePeriod = int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) ? TimeSpan.FromSeconds(seconds) : throw new UsageException($"--grace-period {args[i]}: expected seconds") },
                _ => throw new UsageException($"unknown argument '{name}'"),
            };
        }

        if (options.Step == AgentStep.Build && options.Packages.Count == 0)
        {
            throw new UsageException("build needs at least one --package (an atom or a set such as @world)");
        }

        if (options.Step == AgentStep.Publish && options.Publish is null)
        {
            throw new UsageException("publish needs --publish (the id of a kept release)");
        }

        if (options.Step == AgentStep.Build && options.Publish is not (null or "newest" or "none"))
        {
            throw new UsageException($"--publish {options.Publish}: a build publishes 'newest' (the release it makes) or 'none'");
        }

        if (options.Step == AgentStep.Bootstrap && options.Plan is null)
        {
            throw new UsageException("bootstrap needs --plan (the bootstrap.json the operator writes)");
        }

        return options;
    }

    private AgentOptions With(Action<AgentOptions> change)
    {
        change(this);
        return this;
    }
}

using System.Globalization;

namespace Gentoo.Agent.Emerge;

/// <summary>What a build step asks emerge to do.</summary>
public sealed record BuildRequest(IReadOnlyList<string> Packages, IReadOnlyList<string> EmergeArgs, bool KeepGoing);

/// <summary>Command lines and environment of the emerge runs the agent makes. Emerge never asks and always leaves binary packages.</summary>
public static class EmergeInvocation
{
    /// <summary>
    /// A build: --buildpkg so every package lands in the binary package volume, --usepkg so a restarted build
    /// re-uses what an interrupted one already built, never interactive.
    /// </summary>
    public static IReadOnlyList<string> Build(BuildRequest request)
    {
        if (request.Packages.Count == 0)
        {
            throw new ArgumentException("a build needs at least one package or set", nameof(request));
        }

        var args = new List<string> { "--buildpkg", "--usepkg", "--ask=n" };
        args.AddRange(NonInteractive(request.EmergeArgs).Where(a => !args.Contains(a)));
        if (request.KeepGoing && !args.Contains("--keep-going"))
        {
            args.Add("--keep-going");
        }

        args.AddRange(request.Packages);
        return args;
    }

    /// <summary>The consistency check (make check): what the bootstrap's check step runs, pretend by design.</summary>
    public static IReadOnlyList<string> Check(IReadOnlyList<string> emergeArgs) =>
        ["--ask=n", .. NonInteractive(emergeArgs)];

    /// <summary>One bootstrap step: the atoms, once, with binary packages; its temporary USE goes to a package.use file.</summary>
    public static IReadOnlyList<string> BootstrapStep(IReadOnlyList<string> atoms, IReadOnlyList<string> emergeArgs, bool oneshot)
    {
        var args = new List<string> { "--buildpkg", "--usepkg", "--ask=n" };
        if (oneshot)
        {
            args.Add("--oneshot");
        }

        args.AddRange(NonInteractive(emergeArgs).Where(a => !args.Contains(a)));
        args.AddRange(atoms);
        return args;
    }

    /// <summary>The update's preview (make update): what a world update would change, without building.</summary>
    public static IReadOnlyList<string> UpdatePreview() => ["--ask=n", "--pretend", "--verbose", "--update", "--deep", "--newuse", "@world"];

    /// <summary>Environment of every emerge run: plain output for logs and the classifier, MAKEOPTS from the CPU limit.</summary>
    public static IReadOnlyDictionary<string, string> Environment(int? cpus)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["NOCOLOR"] = "true",
            ["PORTAGE_ELOG_CLASSES"] = "warn error log",
            ["CLEAN_DELAY"] = "0",
            ["EMERGE_WARNING_DELAY"] = "0",
        };
        if (cpus is > 0)
        {
            var jobs = cpus.Value.ToString(CultureInfo.InvariantCulture);
            environment["MAKEOPTS"] = $"-j{jobs} -l{jobs}";
        }

        return environment;
    }

    /// <summary>Removes --ask in every spelling, including inside bundles such as -uDNav, which would wait for a keyboard.</summary>
    internal static IEnumerable<string> NonInteractive(IEnumerable<string> args)
    {
        foreach (var arg in args)
        {
            if (arg == "--ask" || arg.StartsWith("--ask=", StringComparison.Ordinal))
            {
                continue;
            }

            if (arg.Length > 1 && arg[0] == '-' && arg[1] != '-' && arg.Skip(1).All(char.IsAsciiLetter))
            {
                var bundle = arg.Replace("a", "", StringComparison.Ordinal);
                if (bundle.Length > 1)
                {
                    yield return bundle;
                }

                continue;
            }

            yield return arg;
        }
    }
}

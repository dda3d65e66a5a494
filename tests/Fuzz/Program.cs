using System.Diagnostics;
using System.Globalization;
using Gentoo.Fuzz;

// gentoo-fuzz [--inputs N] [--seed SEED] [--only TARGET] [--threads N]: every parser that reads outside input, N inputs
// in all (default 1,000,000), shared by weight; one line per target and a summary, exit 1 on any failure.
var inputs = 1_000_000L;
string? seed = null;
string? only = null;
var threads = Environment.ProcessorCount;
for (var i = 0; i < args.Length; i++)
{
    string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    switch (args[i])
    {
        case "--inputs": inputs = long.Parse(Value(), CultureInfo.InvariantCulture); break;
        case "--seed": seed = Value(); break;
        case "--only": only = Value(); break;
        case "--threads": threads = int.Parse(Value(), CultureInfo.InvariantCulture); break;
        case "-h" or "--help":
            Console.WriteLine("usage: gentoo-fuzz [--inputs N] [--seed SEED] [--only TARGET] [--threads N]");
            return 0;
        default:
            Console.Error.WriteLine($"unknown argument {args[i]}; see --help");
            return 2;
    }
}

var fixtures = FixturesDirectory();
var targets = FuzzTargets.All(fixtures).Where(t => only is null || t.Name == only).ToList();
if (targets.Count == 0)
{
    Console.Error.WriteLine($"no target named {only}; targets: {string.Join(", ", FuzzTargets.All(fixtures).Select(t => t.Name))}");
    return 2;
}

var session = new FuzzSession(threads, seed);
// An input that never finishes cannot be interrupted; the watchdog says which target it came from and ends the run.
using var watchdog = new Timer(_ =>
{
    if (session.Oldest() is { Running: var running } oldest && running > TimeSpan.FromSeconds(30))
    {
        Console.Error.WriteLine($"{oldest.Target}: an input has run for {running.TotalSeconds:F0} s: a hang");
        Environment.Exit(3);
    }
}, null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));

var share = targets.Sum(t => t.Share);
var clock = Stopwatch.StartNew();
long total = 0, refused = 0, failed = 0;
Console.WriteLine($"{"target",-16} {"inputs",10} {"refused",10} {"slowest",10} {"most alloc",11}");
foreach (var target in targets)
{
    var count = Math.Max(1, (long)Math.Round(inputs * target.Share / share));
    try
    {
        var result = target.Run(session, count);
        total += result.Inputs;
        refused += result.Refused;
        Console.WriteLine($"{result.Target,-16} {result.Inputs,10:N0} {result.Refused,10:N0} {result.Slowest.TotalMilliseconds,8:F1}ms {result.MostAllocated / 1024.0,9:F0}KiB");
    }
    catch (Exception e)
    {
        failed++;
        Console.WriteLine($"{target.Name,-16} FAILED: {(e.InnerException is { } cause ? $"{cause.GetType().Name}: {cause.Message}\n{cause.StackTrace}\n" : "")}{e.Message}");
    }
}

Console.WriteLine($"{total:N0} inputs in {clock.Elapsed.TotalSeconds:F0} s, {refused:N0} refused with a documented parse error, {failed} target(s) failed (bounds: {FuzzSession.MaxTime.TotalSeconds:F0} s and {FuzzSession.MaxAllocation >> 20} MiB per input)");
return failed == 0 ? 0 : 1;

static string FixturesDirectory()
{
    for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
    {
        var candidate = Path.Combine(directory.FullName, "tests", "Fixtures");
        if (Directory.Exists(candidate))
        {
            return candidate;
        }
    }

    throw new DirectoryNotFoundException($"no tests/Fixtures above {AppContext.BaseDirectory}");
}

// Portage benchmarks, printed as figures:
//  1. emerge outcome classifier throughput on a 200 MB realistic console log (target >= 200 MB/s, peak memory < 64 MB);
//  2. ELF ABI-tag scan throughput over /usr/lib.
// The log is synthesized from the real emerge output in tests/Fixtures/portage/logs: a long @world update in
// colour, with gcc command lines and warnings, --jobs status lines redrawn with CR and ESC[K, and a build failure
// at the end, so every code path of the classifier runs.
// Run: dotnet run -c Release --project bench/PortageBench [-- SIZE_MB [ELF_DIR]]
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Gentoo.Portage.Elf;
using Gentoo.Portage.Emerge;

if (args is ["--help"] or ["-h"] || args.Length > 2 || (args.Length > 0 && !int.TryParse(args[0], NumberStyles.None, CultureInfo.InvariantCulture, out _)))
{
    Console.WriteLine("usage: dotnet run -c Release --project bench/PortageBench [-- SIZE_MB [ELF_DIR]]");
    Console.WriteLine("  SIZE_MB  size of the emerge log the classifier reads (default 200)");
    Console.WriteLine("  ELF_DIR  directory whose ELF files are scanned for ABI tags (default /usr/lib)");
    return args is ["--help"] or ["-h"] ? 0 : 2;
}

var megabytes = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200;
var elfRoot = args.Length > 1 ? args[1] : "/usr/lib";
var fixtures = FindFixtures();
var log = Path.Combine(Path.GetTempPath(), $"emerge-bench-{megabytes}mb.log");
var size = WriteLog(log, fixtures, megabytes * 1024L * 1024L);
Console.WriteLine($"Synthetic emerge log: {size / 1048576.0:F0} MB at {log}");

GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
var before = Process.GetCurrentProcess();
var baseline = before.WorkingSet64;
var clock = Stopwatch.StartNew();
EmergeOutcome outcome;
await using (var input = new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan))
{
    outcome = await EmergeClassifier.ClassifyAsync(input);
}

var elapsed = clock.Elapsed;
var process = Process.GetCurrentProcess();
Console.WriteLine($"Classifier: {OutcomeClasses.Name(outcome.Class)} of {string.Join(", ", outcome.Atoms)}, {outcome.PackagesMerged} packages merged");
Console.WriteLine($"Classifier throughput:  {size / 1048576.0 / elapsed.TotalSeconds:F0} MB/s ({elapsed.TotalSeconds:F2} s; target >= 200 MB/s)");
Console.WriteLine($"Peak working set:       {process.PeakWorkingSet64 / 1048576.0:F0} MB for the whole process, {baseline / 1048576.0:F0} MB before classifying (target < 64 MB)");
Console.WriteLine($"Allocated while classifying: {GC.GetTotalAllocatedBytes() / 1048576.0:F0} MB in total, collected as it went (heap now {GC.GetTotalMemory(false) / 1048576.0:F0} MB)");
File.Delete(log);

if (Directory.Exists(elfRoot))
{
    var files = Directory.EnumerateFiles(elfRoot, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.ReparsePoint }).ToList();
    var bytes = files.Sum(f => new FileInfo(f).Length);
    clock.Restart();
    var report = KernelRequirementScanner.Scan([elfRoot]);
    var scan = clock.Elapsed;
    Console.WriteLine($"ELF scan of {elfRoot}: {files.Count} files ({bytes / 1048576.0:F0} MB), {report.Files.Count} ELF, required kernel {report.Required?.ToString() ?? "none"}");
    Console.WriteLine($"ELF scan throughput:    {files.Count / scan.TotalSeconds:F0} files/s, {bytes / 1048576.0 / scan.TotalSeconds:F0} MB/s of files ({scan.TotalSeconds:F2} s; only headers and notes are read)");
}

return 0;

static string FindFixtures()
{
    for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
    {
        var candidate = Path.Combine(directory.FullName, "tests", "Fixtures", "portage", "logs");
        if (Directory.Exists(candidate))
        {
            return candidate;
        }
    }

    throw new DirectoryNotFoundException("tests/Fixtures/portage/logs not found above the benchmark");
}

static long WriteLog(string path, string fixtures, long target)
{
    var success = File.ReadAllBytes(Path.Combine(fixtures, "01-success-build.log"));
    var colourJobs = File.ReadAllBytes(Path.Combine(fixtures, "24-jobs2-interleaved-colour.log"));
    var failure = File.ReadAllBytes(Path.Combine(fixtures, "20-build-failure-compile-colour.log"));
    var compile = new StringBuilder();
    for (var unit = 0; unit < 40; unit++)
    {
        compile.Append(CultureInfo.InvariantCulture, $"x86_64-pc-linux-gnu-g++ -DHAVE_CONFIG_H -I. -I../../src -I/usr/include/qt5/QtCore -O2 -pipe -march=x86-64-v3 -fPIC -std=c++17 -c ../../src/core/module{unit}.cpp -o module{unit}.o\n");
        if (unit % 8 == 3)
        {
            compile.Append(CultureInfo.InvariantCulture, $"\u001b[01m\u001b[K../../src/core/module{unit}.cpp:{unit * 7}:12:\u001b[m\u001b[K \u001b[01;35m\u001b[Kwarning: \u001b[m\u001b[Kunused variable ‘\u001b[01m\u001b[Ktmp\u001b[m\u001b[K’ [\u001b[01;35m\u001b[K-Wunused-variable\u001b[m\u001b[K]\n");
        }

        compile.Append(CultureInfo.InvariantCulture, $"\r\u001b[K>>> Jobs: {unit} of 2400 complete, 2 running                Load avg: 3.91, 3.80, 3.55");
    }

    compile.Append('\n');
    var noise = Encoding.UTF8.GetBytes(compile.ToString());
    using var output = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
    while (output.Length < target - failure.Length)
    {
        output.Write(colourJobs);
        for (var i = 0; i < 20; i++)
        {
            output.Write(noise);
        }

        output.Write(success);
    }

    output.Write(failure);
    return output.Length;
}

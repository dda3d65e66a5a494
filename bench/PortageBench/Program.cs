// Portage benchmarks, each figure beside an anchor measured in the same run:
//  1. the emerge outcome classifier on a 200 MB mix of the real emerge output in tests/Fixtures/portage (every console
//     log and build log there, over and over), against `grep -E` looking for seven failure patterns in the same file;
//  2. the ELF ABI-tag scan of a library directory, against `readelf -n` over the same files.
// Run: dotnet run -c Release --project bench/PortageBench [-- SIZE_MB [ELF_DIR]]
using System.Diagnostics;
using System.Globalization;
using Gentoo.Portage.Elf;
using Gentoo.Portage.Emerge;
using Gentoo.Protocol;

if (args is ["--help"] or ["-h"] || args.Length > 2 || (args.Length > 0 && !int.TryParse(args[0], NumberStyles.None, CultureInfo.InvariantCulture, out _)))
{
    Console.WriteLine("usage: dotnet run -c Release --project bench/PortageBench [-- SIZE_MB [ELF_DIR]]");
    Console.WriteLine("  SIZE_MB  size of the emerge log the classifier reads (default 200)");
    Console.WriteLine("  ELF_DIR  directory whose ELF files are scanned for ABI tags (default /usr/lib/x86_64-linux-gnu)");
    return args is ["--help"] or ["-h"] ? 0 : 2;
}

// The classifier as the agent runs it: with its container's GC settings, which the JIT runtime reads from the
// environment only. Without them, this program starts itself again with them.
if (AgentPod.RuntimeEnvironment.Any(setting => Environment.GetEnvironmentVariable(setting.Key) != setting.Value))
{
    var self = new ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false };
    if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
    {
        self.ArgumentList.Add(System.Reflection.Assembly.GetEntryAssembly()!.Location); // run as dotnet portage-bench.dll
    }

    foreach (var arg in args)
    {
        self.ArgumentList.Add(arg);
    }

    foreach (var (name, value) in AgentPod.RuntimeEnvironment)
    {
        self.Environment[name] = value;
    }

    using var again = Process.Start(self)!;
    await again.WaitForExitAsync();
    return again.ExitCode;
}

var megabytes = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200;
var elfRoot = args.Length > 1 ? args[1] : "/usr/lib/x86_64-linux-gnu";
var fixtures = FindFixtures();
var log = Path.Combine(Path.GetTempPath(), $"emerge-bench-{megabytes}mb.log");
var size = WriteLog(log, fixtures, megabytes * 1024L * 1024L);
Console.WriteLine($"Emerge log: {size / 1048576.0:F0} MB of the real fixture logs, at {log}");

GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
// The peak so far was writing the log: start it again here (Linux's clear_refs "5"), so the peak below is classifying's.
File.WriteAllText("/proc/self/clear_refs", "5");
var before = Process.GetCurrentProcess();
var baseline = before.WorkingSet64;
var (allocatedBefore, collectionsBefore) = (GC.GetTotalAllocatedBytes(), GC.CollectionCount(0));
var clock = Stopwatch.StartNew();
EmergeOutcome outcome;
await using (var input = new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.SequentialScan))
{
    outcome = await EmergeClassifier.ClassifyAsync(input);
}

var elapsed = clock.Elapsed;
var allocated = GC.GetTotalAllocatedBytes() - allocatedBefore;
var collections = GC.CollectionCount(0) - collectionsBefore;
var process = Process.GetCurrentProcess();
Console.WriteLine($"Classifier: {OutcomeClasses.Name(outcome.Class)} of {string.Join(", ", outcome.Atoms)}, {outcome.PackagesMerged} packages merged");
var grep = await TimeAsync("grep", ["-E", "-c", "ERROR: .* failed|have been masked|USE changes are necessary|license changes are necessary|keyword changes are necessary|slot conflict|no ebuilds to satisfy", log]);
var classified = size / 1048576.0 / elapsed.TotalSeconds;
var grepped = size / 1048576.0 / grep.TotalSeconds;
Console.WriteLine($"Classifier throughput:  {classified:F0} MB/s ({elapsed.TotalSeconds:F2} s) vs grep -E of 7 failure patterns {grepped:F0} MB/s ({grep.TotalSeconds:F2} s): {classified / grepped:F2}x (goal >= 0.33x)");
// The runtime alone holds ~25 MB (CoreLib, the JIT, coreclr); what the classifier adds is its code, its bounded state and
// the garbage of the lines it looked at.
Console.WriteLine($"Classifier memory:      {(process.PeakWorkingSet64 - baseline) / 1048576.0:F0} MB added at the peak (goal < 32 MB); the whole process peaked at {process.PeakWorkingSet64 / 1048576.0:F0} MB, {baseline / 1048576.0:F0} MB before classifying");
Console.WriteLine($"Allocated while classifying: {allocated / 1048576.0:F0} MB, collected as it went ({collections} collections; heap now {GC.GetTotalMemory(false) / 1048576.0:F0} MB)");
File.Delete(log);

if (Directory.Exists(elfRoot))
{
    var files = Directory.EnumerateFiles(elfRoot, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.ReparsePoint }).ToList();
    var bytes = files.Sum(f => new FileInfo(f).Length);
    KernelRequirementScanner.Scan([elfRoot]); // untimed: the page cache and the JIT warm for both sides alike
    clock.Restart();
    var report = KernelRequirementScanner.Scan([elfRoot]);
    var scan = clock.Elapsed;
    Console.WriteLine($"ELF scan of {elfRoot}: {files.Count} files ({bytes / 1048576.0:F0} MB), {report.Files.Count} ELF, required kernel {report.Required?.ToString() ?? "none"}");
    Console.WriteLine($"ELF scan throughput:    {files.Count / scan.TotalSeconds:F0} files/s ({scan.TotalSeconds:F2} s; only headers and notes are read)");
    // The anchor: binutils reading the notes of the same files, as a shell pipeline would (find | xargs readelf -n).
    var list = Path.GetTempFileName();
    await File.WriteAllLinesAsync(list, files);
    string[] pipeline = ["-c", $"xargs -a '{list}' -d '\\n' readelf -n -W > /dev/null 2>&1; true"];
    await TimeAsync("sh", pipeline); // untimed, like the scan's first run: readelf reads pages the scan does not
    var readelf = await TimeAsync("sh", pipeline);
    File.Delete(list);
    Console.WriteLine($"readelf -n, same files: {files.Count / readelf.TotalSeconds:F0} files/s ({readelf.TotalSeconds:F2} s): ELF scan {readelf / scan:F2}x readelf (goal >= 1.0x)");
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

// The real emerge output of the fixtures (console logs with colour, --jobs redraws, every outcome; the build logs of
// failed packages), in name order, over and over: what the classifier reads in the field, not a synthetic best case.
static long WriteLog(string path, string fixtures, long target)
{
    var portage = Path.GetDirectoryName(fixtures)!;
    var logs = Directory.GetFiles(fixtures, "*.log").Concat(Directory.GetFiles(Path.Combine(portage, "buildlogs"), "*.log"))
        .Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToList();
    using var output = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
    while (output.Length < target)
    {
        foreach (var log in logs)
        {
            output.Write(log);
        }
    }

    return output.Length;
}

static async Task<TimeSpan> TimeAsync(string program, IEnumerable<string> arguments)
{
    var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, UseShellExecute = false };
    foreach (var argument in arguments)
    {
        start.ArgumentList.Add(argument);
    }

    var clock = Stopwatch.StartNew();
    using var process = Process.Start(start)!;
    await process.StandardOutput.ReadToEndAsync();
    await process.WaitForExitAsync();
    return clock.Elapsed;
}

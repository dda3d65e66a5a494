using System.Buffers.Binary;
using System.Diagnostics;
using System.Text.RegularExpressions;
using Gentoo.Portage.Elf;
using Gentoo.Portage.Kernels;

namespace Gentoo.Portage.Tests;

public sealed partial class ElfAbiTagTests
{
    private static string Elf(string name) => Fixtures.PathOf("portage", "elf", name);

    [Theory]
    [InlineData("hello-glibc", "3.2.0")]
    [InlineData("libkver-abi-3.17.0.so", "3.17.0")]
    [InlineData("nostart-noabi", null)]
    public void Abi_tag_of_files_gcc_built_matches_readelf(string file, string? abi)
    {
        var result = ElfAbiTag.Read(Elf(file));

        result.IsElf.ShouldBeTrue();
        result.Error.ShouldBeNull();
        result.LinuxAbi?.ToString().ShouldBe(abi);
        if (abi is null)
        {
            result.Abi.ShouldBeNull();
        }
    }

    [Fact]
    public void Scan_of_a_tree_returns_the_highest_requirement_and_the_files_that_require_it()
    {
        var report = KernelRequirementScanner.Scan([Fixtures.PathOf("portage", "elf")]);

        report.Required.ShouldBe(KernelVersion.Parse("3.17.0"));
        report.RequiringFiles.Select(f => Path.GetFileName(f.Path)).ShouldBe(["libkver-abi-3.17.0.so"]);
        report.Files.Count.ShouldBe(3);
        report.Errors.ShouldBeEmpty();
    }

    [Fact]
    public void Abi_tags_of_this_machines_libraries_match_readelf()
    {
        var libraries = new[] { "/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib/x86_64-linux-gnu/libz.so.1", "/bin/ls" }
            .Where(File.Exists).ToList();
        libraries.ShouldNotBeEmpty();
        foreach (var library in libraries)
        {
            var expected = ReadElfAbi(library);
            ElfAbiTag.Read(library).LinuxAbi?.ToString().ShouldBe(expected, library);
        }
    }

    [Fact]
    public void Program_headers_are_used_when_section_headers_are_stripped()
    {
        var bytes = File.ReadAllBytes(Elf("libkver-abi-3.17.0.so"));
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(40), 0); // e_shoff
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(60), 0); // e_shnum

        var result = ElfAbiTag.Read("stripped", new MemoryStream(bytes));

        result.LinuxAbi.ShouldBe(KernelVersion.Parse("3.17.0"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Crafted_32_bit_files_of_both_byte_orders_are_read(bool bigEndian)
    {
        var result = ElfAbiTag.Read("crafted", new MemoryStream(Crafted32(bigEndian, os: 0, 4, 4, 7)));

        result.Error.ShouldBeNull();
        result.Os.ShouldBe("Linux");
        result.LinuxAbi.ShouldBe(new KernelVersion(4, 4, 7));
    }

    [Fact]
    public void Non_linux_abi_tag_is_reported_but_requires_no_linux_kernel()
    {
        var result = ElfAbiTag.Read("hurd", new MemoryStream(Crafted32(false, os: 1, 0, 0, 1)));

        result.Os.ShouldBe("Hurd");
        result.LinuxAbi.ShouldBeNull();
    }

    [Fact]
    public void Truncated_file_is_reported_not_thrown()
    {
        var bytes = File.ReadAllBytes(Elf("hello-glibc"))[..2000];

        var result = ElfAbiTag.Read("truncated", new MemoryStream(bytes));

        result.IsElf.ShouldBeTrue();
        result.Error.ShouldNotBeNull().ShouldContain("outside the file");
        result.LinuxAbi.ShouldBe(KernelVersion.Parse("3.2.0"), "the note itself lies within what is left");
    }

    [Fact]
    public void Corrupt_header_is_reported_not_thrown()
    {
        var bytes = File.ReadAllBytes(Elf("hello-glibc"));
        bytes[4] = 9;

        ElfAbiTag.Read("corrupt", new MemoryStream(bytes)).Error.ShouldNotBeNull().ShouldContain("unknown ELF class");
        ElfAbiTag.Read("short", new MemoryStream(bytes[..20])).Error.ShouldNotBeNull().ShouldContain("truncated");
    }

    [Fact]
    public void Random_garbage_never_throws()
    {
        var random = new Random(42);
        var template = File.ReadAllBytes(Elf("libkver-abi-3.17.0.so"));
        for (var i = 0; i < 2000; i++)
        {
            var bytes = (byte[])template.Clone();
            for (var j = 0; j < 20; j++)
            {
                bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            }

            Should.NotThrow(() => ElfAbiTag.Read("fuzzed", new MemoryStream(bytes[..random.Next(bytes.Length)])));
        }
    }

    [Fact]
    public void Non_elf_files_are_skipped()
    {
        ElfAbiTag.Read(Fixtures.PathOf("portage", "elf", "expected.json")).IsElf.ShouldBeFalse();
    }

    /// <summary>A minimal ELF32 file: header, one PT_NOTE program header, one note.</summary>
    private static byte[] Crafted32(bool bigEndian, uint os, uint major, uint minor, uint patch)
    {
        var bytes = new byte[52 + 32 + 32];
        "\u007fELF"u8.CopyTo(bytes);
        bytes[4] = 1;
        bytes[5] = (byte)(bigEndian ? 2 : 1);
        bytes[6] = 1;
        void U16(int at, ushort v) { if (bigEndian) BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(at), v); else BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(at), v); }
        void U32(int at, uint v) { if (bigEndian) BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(at), v); else BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at), v); }
        U16(16, 2);
        U16(18, bigEndian ? (ushort)8 : (ushort)3);
        U32(20, 1);
        U32(28, 52);
        U16(40, 52);
        U16(42, 32);
        U16(44, 1);
        U32(52, 4);
        U32(56, 84);
        U32(68, 32);
        U32(84, 4);
        U32(88, 16);
        U32(92, 1);
        "GNU\0"u8.CopyTo(bytes.AsSpan(96));
        U32(100, os);
        U32(104, major);
        U32(108, minor);
        U32(112, patch);
        return bytes;
    }

    private static string? ReadElfAbi(string path)
    {
        var start = new ProcessStartInfo("readelf", ["-n", path]) { RedirectStandardOutput = true, Environment = { ["LC_ALL"] = "C" } };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return AbiLine().Match(output) is { Success: true } match ? match.Groups[1].Value : null;
    }

    [GeneratedRegex("OS: Linux, ABI: ([0-9.]+)")]
    private static partial Regex AbiLine();
}

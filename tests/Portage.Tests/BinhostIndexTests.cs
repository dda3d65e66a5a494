using System.Text.Json.Nodes;
using Gentoo.Portage.Binhost;
using Gentoo.Portage.Elf;

namespace Gentoo.Portage.Tests;

public sealed class BinhostIndexTests
{
    private static string PkgDir => Fixtures.PathOf("portage", "pkgdir");

    [Fact]
    public void Packages_index_written_by_portage_round_trips_byte_for_byte()
    {
        var text = File.ReadAllText(Path.Combine(PkgDir, "Packages"));

        var index = PackagesIndex.Parse(text);

        index.ToString().ShouldBe(text);
        index.Header["PACKAGES"].ShouldBe("5");
        index.Packages.Count.ShouldBe(5);
        index.Packages.Select(p => p["CPV"]).ShouldContain("dev-libs/libkver-0.3");
    }

    [Fact]
    public void Unknown_fields_survive_a_round_trip()
    {
        var text = "ARCH: amd64\nX-CUSTOM: kept\n\nCPV: a/b-1\nFUTURE_FIELD: x: y\nPATH: a/b/b-1.gpkg.tar\n\n";

        var index = PackagesIndex.Parse(text);

        index.ToString().ShouldBe(text);
        index.Packages[0]["FUTURE_FIELD"].ShouldBe("x: y");
    }

    [Fact]
    public void Malformed_line_is_reported_with_its_number()
    {
        Should.Throw<FormatException>(() => PackagesIndex.Parse("ARCH: amd64\n\nCPV: a/b-1\nnot a field\n")).Message.ShouldContain("line 4");
    }

    [Fact]
    public void Gpkg_metadata_is_read_from_the_compressed_metadata_tar()
    {
        var info = Gpkg.Read(Path.Combine(PkgDir, "dev-libs", "libkver", "libkver-0.3-1.gpkg.tar"));

        info.Cpv.ShouldBe("dev-libs/libkver-0.3");
        info.Metadata["SLOT"].ShouldBe("0/0.3");
        info.Metadata["BUILD_ID"].ShouldBe("1");
        info.Metadata["repository"].ShouldBe("demo");
        info.Members.ShouldBe(["libkver-0.3-1/gpkg-1", "libkver-0.3-1/metadata.tar.zst", "libkver-0.3-1/image.tar.zst", "libkver-0.3-1/Manifest"]);
        info.Signed.ShouldBeFalse();
    }

    [Fact]
    public void Index_built_for_a_pkgdir_matches_what_portage_wrote()
    {
        var portage = PackagesIndex.Parse(File.ReadAllText(Path.Combine(PkgDir, "Packages")));

        var built = PackagesIndexBuilder.Build(PkgDir, portage, DateTimeOffset.FromUnixTimeSeconds(1795570800));

        built.Packages.Count.ShouldBe(portage.Packages.Count);
        foreach (var (ours, theirs) in built.Packages.Zip(portage.Packages.OrderBy(p => p["CPV"], StringComparer.Ordinal).ThenBy(p => long.Parse(p["BUILD_ID"]!, System.Globalization.CultureInfo.InvariantCulture))))
        {
            // MTIME is the file's modification time, which a checkout does not preserve. REPO_REVISIONS is in every
            // package's metadata, but Portage indexed it only for the package it built last: we always index it.
            static bool Compared(KeyValuePair<string, string> field) => field.Key is not ("MTIME" or "REPO_REVISIONS");
            string.Join("\n", ours.Fields.Where(Compared)).ShouldBe(string.Join("\n", theirs.Fields.Where(Compared)), theirs["PATH"]);
        }

        built.Header["PACKAGES"].ShouldBe("5");
        built.Header["TIMESTAMP"].ShouldBe("1795570800");
    }

    [Fact]
    public void An_incremental_index_reads_only_new_and_changed_packages_and_matches_a_full_rebuild()
    {
        var directory = Directory.CreateTempSubdirectory("pkgdir-");
        try
        {
            CopyPkgDir(directory.FullName);
            var incremental = new IncrementalPackagesIndex(directory.FullName);
            string Full() => PackagesIndexBuilder.Build(directory.FullName, null, DateTimeOffset.UnixEpoch).ToString();
            string Next() => incremental.Build(PackageFile.Scan(directory.FullName), null, DateTimeOffset.UnixEpoch).ToString();

            Next().ShouldBe(Full());
            incremental.PackagesRead.ShouldBe(5);
            Next().ShouldBe(Full());
            incremental.PackagesRead.ShouldBe(5, "nothing changed, nothing is read");

            var added = Path.Combine(directory.FullName, "app-misc", "foo-1.0-1.gpkg.tar");
            WriteGpkg(added, "gz", new Dictionary<string, string> { ["CATEGORY"] = "app-misc", ["PF"] = "foo-1.0", ["BUILD_ID"] = "1" });
            Next().ShouldBe(Full());
            incremental.PackagesRead.ShouldBe(6, "only the new package is read");

            WriteGpkg(added, "gz", new Dictionary<string, string> { ["CATEGORY"] = "app-misc", ["PF"] = "foo-1.0", ["BUILD_ID"] = "1", ["SLOT"] = "2" });
            File.SetLastWriteTimeUtc(added, File.GetLastWriteTimeUtc(added).AddSeconds(5));
            var replaced = Next();
            replaced.ShouldBe(Full());
            replaced.ShouldContain("SLOT: 2");
            incremental.PackagesRead.ShouldBe(7, "a replaced package is read again");

            File.WriteAllBytes(added, new byte[512]);
            var errors = new List<string>();
            incremental.Build(PackageFile.Scan(directory.FullName), null, DateTimeOffset.UnixEpoch, (path, _) => errors.Add(path)).Packages.Count.ShouldBe(5);
            incremental.Build(PackageFile.Scan(directory.FullName), null, DateTimeOffset.UnixEpoch, (path, _) => errors.Add(path));
            errors.ShouldBe([added, added], "an unreadable package is left out and tried again, not remembered");
            incremental.CpvOf(added).ShouldBeNull();

            File.Delete(added);
            Next().ShouldBe(Full());
            incremental.CpvOf(Path.Combine(directory.FullName, "dev-libs", "libkver", "libkver-0.3-1.gpkg.tar")).ShouldBe("dev-libs/libkver-0.3");
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData("image/usr/lib64/libQt6Core.so.6", "/usr/lib64/libQt6Core.so.6")]
    [InlineData("./image/usr/bin/greeter", "/usr/bin/greeter")]
    [InlineData("usr/lib/libkver.so.0", "/usr/lib/libkver.so.0")]
    [InlineData("image/image/x", "/image/x")]
    public void Image_members_are_named_where_they_are_installed(string member, string installed) =>
        PackageKernels.InstalledPath(member).ShouldBe(installed);

    private static void CopyPkgDir(string target)
    {
        foreach (var file in Directory.EnumerateFiles(PkgDir, "*.gpkg.tar", SearchOption.AllDirectories))
        {
            var copy = Path.Combine(target, Path.GetRelativePath(PkgDir, file));
            Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
            File.Copy(file, copy);
        }
    }

    [Fact]
    public void Image_files_of_a_gpkg_carry_the_abi_tags_readelf_reported()
    {
        var expected = JsonNode.Parse(File.ReadAllText(Fixtures.PathOf("portage", "pkgdir.expected.json")))!["packages"]!.AsArray();
        foreach (var package in expected)
        {
            var found = new Dictionary<string, string?>();
            Gpkg.ReadImage(Path.Combine(PkgDir, package!["path"]!.GetValue<string>()), (name, data) =>
            {
                using var copy = new MemoryStream();
                data.CopyTo(copy);
                copy.Position = 0;
                var result = ElfAbiTag.Read(name, copy);
                if (result.IsElf)
                {
                    found[name] = result.LinuxAbi?.ToString();
                }
            });

            foreach (var tag in package["elf_abi_tags"]!.AsArray())
            {
                var suffix = tag!["path"]!.GetValue<string>()["image".Length..];
                var match = found.Single(f => f.Key.EndsWith(suffix, StringComparison.Ordinal));
                match.Value.ShouldBe(tag["abi_tag"]?["abi"]?.GetValue<string>(), suffix);
            }
        }
    }

    [Fact]
    public void Packages_index_of_a_public_binhost_round_trips_and_its_entries_are_valid()
    {
        var text = File.ReadAllText(Fixtures.PathOf("public", "Packages.gentoo-bin-2025"));

        var index = PackagesIndex.Parse(text);

        index.ToString().ShouldBe(text);
        index.Header["PROFILE"].ShouldBe("default/linux/amd64/23.0");
        index.Packages.Count.ShouldBe(5);
        foreach (var package in index.Packages)
        {
            foreach (var key in new[] { "CPV", "BUILD_ID", "PATH", "SIZE", "MD5", "SHA1" })
            {
                package[key].ShouldNotBeNullOrEmpty($"{package["CPV"]} {key}");
            }

            Atoms.Atom.TryParse("=" + package["CPV"], out var atom, out var error).ShouldBeTrue(error);
            package["PATH"]!.ShouldStartWith(atom.Key + "/");
            package["PATH"]!.ShouldEndWith($"-{atom.Version}-{package["BUILD_ID"]}.gpkg.tar");
        }

        index.Packages.Single(p => p["CPV"] == "app-arch/libarchive-3.7.9")["SLOT"].ShouldBe("0/13");
    }

    [Theory]
    [InlineData("gz")]
    [InlineData("bz2")]
    [InlineData("xz")]
    public void Signed_gpkg_with_other_compressions_is_read(string compression)
    {
        var directory = Directory.CreateTempSubdirectory("gpkg-");
        var path = Path.Combine(directory.FullName, "foo-1.0-1.gpkg.tar");
        WriteGpkg(path, compression, new Dictionary<string, string> { ["CATEGORY"] = "app-misc", ["PF"] = "foo-1.0", ["SLOT"] = "2", ["USE"] = "amd64 ssl" });

        var info = Gpkg.Read(path);

        info.Cpv.ShouldBe("app-misc/foo-1.0");
        info.Metadata["SLOT"].ShouldBe("2");
        info.Signed.ShouldBeTrue();
        var index = PackagesIndexBuilder.Build(directory.FullName, null, DateTimeOffset.UnixEpoch);
        index.Packages.Single()["SLOT"].ShouldBe("2");
        index.Packages.Single()["PATH"].ShouldBe("foo-1.0-1.gpkg.tar");
        directory.Delete(recursive: true);
    }

    [Fact]
    public void Corrupt_package_is_reported_and_left_out_of_the_index()
    {
        var directory = Directory.CreateTempSubdirectory("gpkg-");
        File.WriteAllBytes(Path.Combine(directory.FullName, "broken-1-1.gpkg.tar"), new byte[1024]);
        var errors = new List<string>();

        var index = PackagesIndexBuilder.Build(directory.FullName, null, DateTimeOffset.UnixEpoch, (path, e) => errors.Add(path));

        index.Packages.ShouldBeEmpty();
        errors.ShouldHaveSingleItem().ShouldEndWith("broken-1-1.gpkg.tar");
        directory.Delete(recursive: true);
    }

    /// <summary>A GPKG laid out as the format specifies: NAME/gpkg-1, NAME/metadata.tar.COMP(+.sig), NAME/image.tar.COMP(+.sig), NAME/Manifest.</summary>
    private static void WriteGpkg(string path, string compression, Dictionary<string, string> metadata)
    {
        using var inner = new MemoryStream();
        using (var tar = new System.Formats.Tar.TarWriter(inner, leaveOpen: true))
        {
            foreach (var (key, value) in metadata)
            {
                var entry = new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.RegularFile, "metadata/" + key)
                {
                    DataStream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(value + "\n")),
                };
                tar.WriteEntry(entry);
            }
        }

        var compressed = new MemoryStream();
        if (compression is "xz" or "bz2")
        {
            // The real tools make the streams, as Portage's own compressors do.
            var compressor = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(compression == "xz" ? "xz" : "bzip2", "-c") { RedirectStandardInput = true, RedirectStandardOutput = true })!;
            var output = compressor.StandardOutput.BaseStream.CopyToAsync(compressed);
            compressor.StandardInput.BaseStream.Write(inner.ToArray());
            compressor.StandardInput.Close();
            output.Wait();
            compressor.WaitForExit();
        }
        else
        {
            using Stream writer = new System.IO.Compression.GZipStream(compressed, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true);
            inner.Position = 0;
            inner.CopyTo(writer);
        }

        using var outer = new System.Formats.Tar.TarWriter(File.Create(path));
        void Add(string name, byte[] data) => outer.WriteEntry(new System.Formats.Tar.UstarTarEntry(System.Formats.Tar.TarEntryType.RegularFile, name) { DataStream = new MemoryStream(data) });
        Add("foo-1.0-1/gpkg-1", []);
        Add($"foo-1.0-1/metadata.tar.{compression}", compressed.ToArray());
        Add($"foo-1.0-1/metadata.tar.{compression}.sig", System.Text.Encoding.ASCII.GetBytes("-----BEGIN PGP SIGNATURE-----\n"));
        Add("foo-1.0-1/Manifest", []);
    }
}

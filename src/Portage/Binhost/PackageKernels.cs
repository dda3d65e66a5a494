using Gentoo.Portage.Elf;
using Gentoo.Portage.Kernels;

namespace Gentoo.Portage.Binhost;

/// <summary>The kernel a binary package needs: the highest Linux ABI tag among the ELF files of its image, and which file.</summary>
public sealed record PackageKernel(KernelVersion? Required, string? File);

public static class PackageKernels
{
    public static PackageKernel Of(string gpkgPath)
    {
        KernelVersion? highest = null;
        string? file = null;
        Gpkg.ReadImage(gpkgPath, (name, stream) =>
        {
            if (ElfAbiTag.Read(name, stream).LinuxAbi is { } abi && (highest is not { } best || abi.CompareTo(best) > 0))
            {
                (highest, file) = (abi, InstalledPath(name));
            }
        });
        return new PackageKernel(highest, file);
    }

    /// <summary>Where an image.tar member ("image/usr/lib64/libfoo.so", "./image/...") is installed: "/usr/lib64/libfoo.so".</summary>
    public static string InstalledPath(string member)
    {
        var path = member.TrimStart('.', '/');
        return "/" + (path.StartsWith("image/", StringComparison.Ordinal) ? path["image/".Length..] : path);
    }
}

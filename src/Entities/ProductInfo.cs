using System.Reflection;

namespace Gentoo.Entities;

/// <summary>The product's version (Directory.Build.props) and the operator image tag that goes with it.</summary>
public static class ProductInfo
{
    /// <summary>"0.1.0": the assembly's informational version without the commit a build appends.</summary>
    public static string Version { get; } =
        (typeof(ProductInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0").Split('+')[0];

    /// <summary>The operator image of this version, as the README builds it and the manifests and chart name it.</summary>
    public static string DefaultImage { get; } = "gentoo-builder:" + Version;
}

using System.Text.RegularExpressions;
using Gentoo.Entities;
using Gentoo.Plugin;

namespace Gentoo.Operator.Tests.Hosting;

/// <summary>One version across the product: Directory.Build.props, the chart, the manifests, the operator's default image, the plugin, the README.</summary>
public sealed class VersionAgreementTests
{
    [Fact]
    public void The_chart_the_manifests_the_operator_default_the_plugin_and_the_readme_name_one_version()
    {
        var version = Regex.Match(File.ReadAllText(Checkout.PathOf("Directory.Build.props")), "<Version>([^<]+)</Version>").Groups[1].Value;
        version.ShouldNotBeNullOrEmpty();

        ProductInfo.Version.ShouldBe(version);
        new Gentoo.Operator.Hosting.OperatorOptions().OperatorImage.ShouldBe($"gentoo-builder:{version}");
        PluginCommand.PluginVersion.ShouldStartWith(version);
        var chart = File.ReadAllText(Checkout.PathOf("charts", "gentoo-builder", "Chart.yaml"));
        Regex.Match(chart, "(?m)^appVersion: \"([^\"]+)\"").Groups[1].Value.ShouldBe(version);
        Regex.Match(chart, "(?m)^version: (\\S+)").Groups[1].Value.ShouldBe(version);
        Regex.Matches(File.ReadAllText(Checkout.PathOf("config", "manager", "deployment.yaml")), "gentoo-builder:([0-9][^\\s\"]*)").Select(m => m.Groups[1].Value)
            .ShouldAllBe(v => v == version);
        Regex.Matches(File.ReadAllText(Checkout.PathOf("README.md")), "docker build -t gentoo-builder:(\\S+) ").Select(m => m.Groups[1].Value).ShouldAllBe(v => v == version);
    }
}

using Gentoo.Entities.V1Alpha1;
using k8s.Models;

namespace Gentoo.Operator.Tests.Integration;

/// <summary>Objects many integration tests start from.</summary>
internal static class TestObjects
{
    /// <summary>The bootstrap "stage3": a plain amd64 OpenRC stage3 on the 23.0 profile.</summary>
    public static GentooBootstrap Stage3Bootstrap(string ns) => new()
    {
        Metadata = new V1ObjectMeta { Name = "stage3", NamespaceProperty = ns },
        Spec = new GentooBootstrapSpec { Stage3 = new Stage3Source { Image = "docker.io/gentoo/stage3:amd64-openrc" }, Profile = "default/linux/amd64/23.0" },
    };
}

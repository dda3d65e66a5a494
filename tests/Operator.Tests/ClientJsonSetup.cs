using System.Runtime.CompilerServices;
using Gentoo.Connection;
using Gentoo.Entities.V1Alpha1;

namespace Gentoo.Operator.Tests;

/// <summary>
/// The tests' process reads and writes objects with KubernetesClient's JSON set up as the operator's and the plugin's
/// Main sets it up, before any test uses it (the options lock themselves at their first use).
/// </summary>
internal static class ClientJsonSetup
{
#pragma warning disable CA2255 // a test assembly is the process's entry as far as its tests go
    [ModuleInitializer]
    internal static void AsTheProcessesDo() => ClientJson.Lock(Gentoo.Operator.Hosting.OperatorJson.Contracts);
#pragma warning restore CA2255
}

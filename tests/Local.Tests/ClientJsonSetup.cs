using System.Runtime.CompilerServices;
using Gentoo.Connection;
using Gentoo.Operator.Hosting;

namespace Gentoo.Local.Tests;

/// <summary>
/// Local mode runs in the operator's process, whose Main locks KubernetesClient's JSON to the generated contracts
/// (no reflection behind them); the tests' process does the same before any test, so a missing contract fails here.
/// </summary>
internal static class ClientJsonSetup
{
#pragma warning disable CA2255 // a test assembly is the process's entry as far as its tests go
    [ModuleInitializer]
    internal static void AsTheProcessesDo() => ClientJson.Lock(OperatorJson.Contracts);
#pragma warning restore CA2255
}

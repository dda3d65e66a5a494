using Xunit;

namespace Gentoo.Tests;

/// <summary>
/// A fact that skips where this machine lacks what it needs. dotnet test prints a skip reason only at detailed
/// verbosity, so the reason also goes into the name printed beside [SKIP]: the README's test command says why.
/// </summary>
public abstract class SkippableFactAttribute(string test) : FactAttribute
{
    protected void SkipBecause(string reason)
    {
        Skip = reason;
        DisplayName = $"{test} (skipped: {reason})";
    }
}


using Gentoo.Fuzz;

namespace Gentoo.Portage.Tests;

/// <summary>
/// The fuzz targets at CI's pace: a few hundred damaged or generated inputs each, every one answered within its
/// bounds with a result or a documented parse error. hack/fuzz.sh runs them by the million.
/// </summary>
public sealed class FuzzTests
{
    private const int Inputs = 400;

    public static TheoryData<string> Targets() => [.. FuzzTargets.All(Fixtures.Root).Select(t => t.Name)];

    [Theory]
    [MemberData(nameof(Targets))]
    public void Damaged_and_generated_input_gets_a_result_or_a_documented_parse_error_within_bounds(string target)
    {
        var result = FuzzTargets.All(Fixtures.Root).Single(t => t.Name == target).Run(new FuzzSession(threads: 1), Inputs);

        result.Inputs.ShouldBe(Inputs);
        result.Slowest.ShouldBeLessThan(FuzzSession.MaxTime);
    }
}

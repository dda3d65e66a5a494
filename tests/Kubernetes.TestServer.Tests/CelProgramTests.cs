using System.Text.Json.Nodes;
using Gentoo.ApiServer.Cel;

namespace Gentoo.Kubernetes.TestServer.Tests;

public sealed class CelProgramTests
{
    private static object? Eval(string expression, string selfJson = "{}", string? oldSelfJson = null)
    {
        var program = CelProgram.Compile(expression, new HashSet<string> { "self", "oldSelf" });
        var variables = new Dictionary<string, object?> { ["self"] = CelProgram.FromJson(JsonNode.Parse(selfJson)) };
        if (oldSelfJson is not null)
        {
            variables["oldSelf"] = CelProgram.FromJson(JsonNode.Parse(oldSelfJson));
        }

        return program.Evaluate(variables);
    }

    [Theory]
    [InlineData("1 + 2 * 3 == 7", true)]
    [InlineData("(1 + 2) * 3 == 9", true)]
    [InlineData("7 / 2 == 3 && 7 % 2 == 1", true)]
    [InlineData("'a' + 'b' == 'ab'", true)]
    [InlineData("[1, 2] + [3] == [1, 2, 3]", true)]
    [InlineData("1 == 1.0", true)]
    [InlineData("2u > 1", true)]
    [InlineData("'abc' < 'abd'", true)]
    [InlineData("true ? 'x' == 'x' : false", true)]
    [InlineData("!false && !!true", true)]
    [InlineData("-(3) == -3", true)]
    [InlineData("-7 / 2 == -3", true)]
    [InlineData("3 in [1, 2, 3]", true)]
    [InlineData("'k' in {'k': 1}", true)]
    [InlineData("size('héllo') == 5", true)]
    [InlineData("'portage'.startsWith('port') && 'portage'.endsWith('age') && 'portage'.contains('rta')", true)]
    [InlineData("'dev-libs/nss'.matches('^[a-z-]+/[a-z]+$')", true)]
    [InlineData("[3, 1, 2].all(x, x > 0) && [3, 1, 2].exists(x, x == 2) && [1, 2, 2].exists_one(x, x == 1)", true)]
    [InlineData("[1, 2, 3].map(x, x * 2) == [2, 4, 6]", true)]
    [InlineData("[1, 2, 3].filter(x, x > 1) == [2, 3]", true)]
    [InlineData("[1, 2, 3].map(x, x > 1, x * 10) == [20, 30]", true)]
    [InlineData("'a,b'.split(',') == ['a', 'b'] && ['a', 'b'].join('-') == 'a-b'", true)]
    [InlineData("[1, 2, 3].isSorted() && [1, 2, 3].sum() == 6 && [4, 2].min() == 2", true)]
    [InlineData("int('42') == 42 && string(7) == '7' && double(1) == 1.0", true)]
    [InlineData("'''tri\"ple''' == 'tri\"ple' && r'\\d' == '\\\\d'", true)]
    public void Standard_operators_functions_and_macros_evaluate_as_cel_defines_them(string expression, bool expected)
    {
        Eval(expression).ShouldBe(expected);
    }

    [Fact]
    public void Matches_refuses_look_ahead_as_cel_go_does()
    {
        Should.Throw<CelException>(() => Eval("'abc'.matches('^(?!x)abc$')")).Message.ShouldContain("invalid or unsupported Perl syntax");
    }

    [Fact]
    public void Has_tests_field_presence_without_failing_on_absent_fields()
    {
        Eval("has(self.a) && !has(self.b)", """{"a": 1}""").ShouldBe(true);
    }

    [Fact]
    public void Selecting_an_absent_field_is_an_error()
    {
        Should.Throw<CelException>(() => Eval("self.missing == 1", "{}")).Message.ShouldContain("no such key");
    }

    [Theory]
    [InlineData("self.missing == 1 || true")]
    [InlineData("true || self.missing == 1")]
    [InlineData("!(self.missing == 1 && false)")]
    [InlineData("[0, 1].exists(i, self.missing == i || i == 1)")]
    public void Logical_operators_absorb_an_error_when_the_other_side_decides(string expression)
    {
        Eval(expression, "{}").ShouldBe(true);
    }

    [Fact]
    public void Error_is_not_absorbed_when_the_other_side_does_not_decide()
    {
        Should.Throw<CelException>(() => Eval("self.missing == 1 || false", "{}"));
    }

    [Fact]
    public void Transition_rule_compares_objects_deeply()
    {
        Eval("self == oldSelf", """{"name": "a", "tags": [1, 2]}""", """{"name": "a", "tags": [1, 2]}""").ShouldBe(true);
        Eval("self == oldSelf", """{"name": "a"}""", """{"name": "b"}""").ShouldBe(false);
        CelProgram.Compile("self == oldSelf", new HashSet<string> { "self", "oldSelf" }).IsTransitionRule.ShouldBeTrue();
        CelProgram.Compile("has(self.a)", new HashSet<string> { "self", "oldSelf" }).IsTransitionRule.ShouldBeFalse();
    }

    [Fact]
    public void Overflow_is_an_error_not_a_wrapped_value()
    {
        Should.Throw<CelException>(() => Eval("9223372036854775807 + 1 > 0"));
    }

    [Theory]
    [InlineData("unknownFunction(self)", "undeclared reference to 'unknownFunction'")]
    [InlineData("other.field == 1", "undeclared reference to 'other'")]
    [InlineData("self.a ==", "unexpected")]
    [InlineData("'unterminated", "unterminated string")]
    [InlineData("self.a.frobnicate()", "undeclared reference to 'frobnicate'")]
    public void Invalid_expressions_fail_to_compile_with_a_reason(string expression, string reason)
    {
        Should.Throw<CelException>(() => CelProgram.Compile(expression, new HashSet<string> { "self", "oldSelf" }))
            .Message.ShouldContain(reason);
    }

    [Fact]
    public void Field_paths_are_reported_for_schema_checks()
    {
        var program = CelProgram.Compile("has(self.spec.a) && self.spec.b.c == oldSelf.x", new HashSet<string> { "self", "oldSelf" });

        program.FieldPaths("self").Select(p => string.Join('.', p)).ShouldBe(["spec.a", "spec.b.c"]);
        program.FieldPaths("oldSelf").Select(p => string.Join('.', p)).ShouldBe(["x"]);
    }
}

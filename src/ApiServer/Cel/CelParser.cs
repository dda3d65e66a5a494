namespace Gentoo.ApiServer.Cel;

internal abstract record CelExpr;

internal sealed record LiteralExpr(object? Value) : CelExpr;

internal sealed record IdentExpr(string Name) : CelExpr;

/// <summary>Field selection; <paramref name="PresenceTest"/> marks the argument of has().</summary>
internal sealed record SelectExpr(CelExpr Operand, string Field, bool PresenceTest) : CelExpr;

internal sealed record IndexExpr(CelExpr Operand, CelExpr Index) : CelExpr;

internal sealed record CallExpr(CelExpr? Target, string Function, IReadOnlyList<CelExpr> Args) : CelExpr;

internal sealed record ListExpr(IReadOnlyList<CelExpr> Items) : CelExpr;

internal sealed record MapExpr(IReadOnlyList<(CelExpr Key, CelExpr Value)> Entries) : CelExpr;

internal sealed record UnaryExpr(string Op, CelExpr Operand) : CelExpr;

internal sealed record BinaryExpr(string Op, CelExpr Left, CelExpr Right) : CelExpr;

internal sealed record ConditionalExpr(CelExpr Condition, CelExpr Then, CelExpr Else) : CelExpr;

/// <summary>The comprehension macros all, exists, exists_one, map and filter over <paramref name="Range"/>.</summary>
internal sealed record MacroExpr(string Macro, CelExpr Range, string Variable, CelExpr Body, CelExpr? Filter) : CelExpr;

/// <summary>Recursive-descent parser for the CEL grammar (precedence: ?: then || then &amp;&amp; then relations, +, *, unary, member).</summary>
internal sealed class CelParser
{
    private static readonly HashSet<string> Reserved =
        ["as", "break", "const", "continue", "else", "for", "function", "if", "import", "let", "loop", "package", "namespace", "return", "var", "void", "while"];

    private readonly List<Token> tokens;
    private int position;

    private CelParser(string text) => tokens = CelLexer.Tokenize(text);

    public static CelExpr Parse(string text)
    {
        var parser = new CelParser(text);
        var expr = parser.Expression();
        if (parser.Peek.Kind != TokenKind.End)
        {
            throw new CelException($"unexpected '{parser.Peek.Text}' at position {parser.Peek.Position}");
        }

        return expr;
    }

    private Token Peek => tokens[position];

    private bool At(string punctuation) => Peek.Kind == TokenKind.Punctuation && Peek.Text == punctuation;

    private bool Accept(string punctuation)
    {
        if (!At(punctuation))
        {
            return false;
        }

        position++;
        return true;
    }

    private void Expect(string punctuation)
    {
        if (!Accept(punctuation))
        {
            throw new CelException($"expected '{punctuation}' at position {Peek.Position}, found '{Peek.Text}'");
        }
    }

    private CelExpr Expression()
    {
        var condition = Or();
        if (!Accept("?"))
        {
            return condition;
        }

        var then = Or();
        Expect(":");
        return new ConditionalExpr(condition, then, Expression());
    }

    private CelExpr Or()
    {
        var left = And();
        while (Accept("||"))
        {
            left = new BinaryExpr("||", left, And());
        }

        return left;
    }

    private CelExpr And()
    {
        var left = Relation();
        while (Accept("&&"))
        {
            left = new BinaryExpr("&&", left, Relation());
        }

        return left;
    }

    private CelExpr Relation()
    {
        var left = Addition();
        while (true)
        {
            if (Peek is { Kind: TokenKind.Punctuation, Text: "<" or "<=" or ">" or ">=" or "==" or "!=" } op)
            {
                position++;
                left = new BinaryExpr(op.Text, left, Addition());
            }
            else if (Peek is { Kind: TokenKind.Identifier, Text: "in" })
            {
                position++;
                left = new BinaryExpr("in", left, Addition());
            }
            else
            {
                return left;
            }
        }
    }

    private CelExpr Addition()
    {
        var left = Multiplication();
        while (Peek is { Kind: TokenKind.Punctuation, Text: "+" or "-" } op)
        {
            position++;
            left = new BinaryExpr(op.Text, left, Multiplication());
        }

        return left;
    }

    private CelExpr Multiplication()
    {
        var left = Unary();
        while (Peek is { Kind: TokenKind.Punctuation, Text: "*" or "/" or "%" } op)
        {
            position++;
            left = new BinaryExpr(op.Text, left, Unary());
        }

        return left;
    }

    private CelExpr Unary()
    {
        if (Accept("!"))
        {
            return new UnaryExpr("!", Unary());
        }

        if (Accept("-"))
        {
            return new UnaryExpr("-", Unary());
        }

        return Member();
    }

    private CelExpr Member()
    {
        var expr = Primary();
        while (true)
        {
            if (Accept("."))
            {
                var name = Identifier();
                if (Accept("("))
                {
                    expr = MemberCall(expr, name, Arguments(")"));
                }
                else
                {
                    expr = new SelectExpr(expr, name, PresenceTest: false);
                }
            }
            else if (Accept("["))
            {
                var index = Expression();
                Expect("]");
                expr = new IndexExpr(expr, index);
            }
            else
            {
                return expr;
            }
        }
    }

    private static CelExpr MemberCall(CelExpr target, string name, List<CelExpr> args)
    {
        switch (name)
        {
            case "all" or "exists" or "exists_one" or "filter" when args.Count == 2:
                return new MacroExpr(name, target, MacroVariable(args[0], name), args[1], null);
            case "map" when args.Count == 2:
                return new MacroExpr(name, target, MacroVariable(args[0], name), args[1], null);
            case "map" when args.Count == 3:
                return new MacroExpr(name, target, MacroVariable(args[0], name), args[2], args[1]);
            default:
                return new CallExpr(target, name, args);
        }
    }

    private static string MacroVariable(CelExpr expr, string macro) =>
        expr is IdentExpr ident ? ident.Name : throw new CelException($"{macro}() needs a variable name as its first argument");

    private CelExpr Primary()
    {
        var token = Peek;
        switch (token.Kind)
        {
            case TokenKind.Int or TokenKind.Uint or TokenKind.Double or TokenKind.String or TokenKind.Bytes:
                position++;
                return new LiteralExpr(token.Value);
            case TokenKind.Identifier:
                position++;
                switch (token.Text)
                {
                    case "true": return new LiteralExpr(true);
                    case "false": return new LiteralExpr(false);
                    case "null": return new LiteralExpr(null);
                }

                if (Reserved.Contains(token.Text))
                {
                    throw new CelException($"reserved identifier '{token.Text}' at position {token.Position}");
                }

                if (!Accept("("))
                {
                    return new IdentExpr(token.Text);
                }

                var args = Arguments(")");
                if (token.Text == "has")
                {
                    return args is [SelectExpr select]
                        ? select with { PresenceTest = true }
                        : throw new CelException("has() takes one field selection, such as has(self.field)");
                }

                return new CallExpr(null, token.Text, args);
            case TokenKind.Punctuation when token.Text == "(":
                position++;
                var inner = Expression();
                Expect(")");
                return inner;
            case TokenKind.Punctuation when token.Text == "[":
                position++;
                return new ListExpr(Arguments("]"));
            case TokenKind.Punctuation when token.Text == "{":
                position++;
                return MapLiteral();
            case TokenKind.Punctuation when token.Text == ".":
                position++;
                return new IdentExpr(Identifier());
            default:
                throw new CelException($"unexpected '{token.Text}' at position {token.Position}");
        }
    }

    private MapExpr MapLiteral()
    {
        var entries = new List<(CelExpr, CelExpr)>();
        while (!Accept("}"))
        {
            var key = Expression();
            Expect(":");
            entries.Add((key, Expression()));
            if (!Accept(","))
            {
                Expect("}");
                break;
            }
        }

        return new MapExpr(entries);
    }

    private List<CelExpr> Arguments(string close)
    {
        var args = new List<CelExpr>();
        while (!Accept(close))
        {
            args.Add(Expression());
            if (!Accept(","))
            {
                Expect(close);
                break;
            }
        }

        return args;
    }

    private string Identifier()
    {
        if (Peek.Kind != TokenKind.Identifier)
        {
            throw new CelException($"expected an identifier at position {Peek.Position}, found '{Peek.Text}'");
        }

        return tokens[position++].Text;
    }
}

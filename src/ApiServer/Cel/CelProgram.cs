using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Gentoo.ApiServer.Api;

namespace Gentoo.ApiServer.Cel;

/// <summary>
/// A compiled CEL expression, evaluated the way the API server evaluates x-kubernetes-validations: JSON values
/// become CEL values (objects are maps with field selection), errors are absorbed by the logical operators,
/// and the standard library plus the Kubernetes list and string extensions are available.
/// </summary>
public sealed class CelProgram
{
    private static readonly HashSet<string> GlobalFunctions = ["size", "int", "uint", "double", "string", "bool", "bytes", "type", "dyn", "matches"];

    private static readonly HashSet<string> MemberFunctions =
    [
        "size", "matches", "startsWith", "endsWith", "contains", "lowerAscii", "upperAscii", "trim", "split", "join",
        "indexOf", "lastIndexOf", "replace", "substring", "charAt", "isSorted", "sum", "min", "max", "find", "findAll",
    ];

    private readonly CelExpr root;

    private CelProgram(string source, CelExpr root)
    {
        Source = source;
        this.root = root;
    }

    public string Source { get; }

    /// <summary>True when the expression refers to oldSelf: a transition rule, evaluated only on updates.</summary>
    public bool IsTransitionRule => References(root, "oldSelf");

    /// <summary>Parses and checks the expression; unknown functions and variables fail here, as they do at CRD creation.</summary>
    public static CelProgram Compile(string source, IReadOnlySet<string> variables)
    {
        var root = CelParser.Parse(source);
        Check(root, variables);
        return new CelProgram(source, root);
    }

    /// <summary>The chains of field names selected from <paramref name="variable"/>, for checking them against a schema.</summary>
    public IEnumerable<IReadOnlyList<string>> FieldPaths(string variable)
    {
        var paths = new List<IReadOnlyList<string>>();
        Collect(root, variable, paths);
        return paths;
    }

    public object? Evaluate(IReadOnlyDictionary<string, object?> variables) => new Evaluator(variables).Eval(root);

    /// <summary>Turns a JSON value into the CEL value the API server binds to self.</summary>
    public static object? FromJson(JsonNode? node) => node switch
    {
        null => null,
        JsonObject map => new CelMap(map.Select(p => new KeyValuePair<object, object?>(p.Key, FromJson(p.Value)))),
        JsonArray list => list.Select(FromJson).ToList(),
        JsonValue value when value.TryGetValue<bool>(out var flag) => flag,
        JsonValue value when value.TryGetValue<string>(out var text) => text,
        JsonValue value when JsonNumbers.TryInteger(value, out var integer) => integer,
        JsonValue value when JsonNumbers.IsNumber(value) => JsonNumbers.Double(value),
        _ => throw new CelException($"unsupported JSON value {node.ToJsonString()}"),
    };

    private static void Check(CelExpr expr, IReadOnlySet<string> variables)
    {
        switch (expr)
        {
            case IdentExpr ident when !variables.Contains(ident.Name):
                throw new CelException($"undeclared reference to '{ident.Name}'");
            case SelectExpr select:
                Check(select.Operand, variables);
                break;
            case IndexExpr index:
                Check(index.Operand, variables);
                Check(index.Index, variables);
                break;
            case CallExpr call:
                if (call.Target is null ? !GlobalFunctions.Contains(call.Function) : !MemberFunctions.Contains(call.Function))
                {
                    throw new CelException($"undeclared reference to '{call.Function}'");
                }

                if (call.Target is not null)
                {
                    Check(call.Target, variables);
                }

                foreach (var arg in call.Args)
                {
                    Check(arg, variables);
                }

                break;
            case ListExpr list:
                list.Items.ToList().ForEach(item => Check(item, variables));
                break;
            case MapExpr map:
                foreach (var (key, value) in map.Entries)
                {
                    Check(key, variables);
                    Check(value, variables);
                }

                break;
            case UnaryExpr unary:
                Check(unary.Operand, variables);
                break;
            case BinaryExpr binary:
                Check(binary.Left, variables);
                Check(binary.Right, variables);
                break;
            case ConditionalExpr conditional:
                Check(conditional.Condition, variables);
                Check(conditional.Then, variables);
                Check(conditional.Else, variables);
                break;
            case MacroExpr macro:
                Check(macro.Range, variables);
                var inner = new HashSet<string>(variables) { macro.Variable };
                Check(macro.Body, inner);
                if (macro.Filter is not null)
                {
                    Check(macro.Filter, inner);
                }

                break;
        }
    }

    private static bool References(CelExpr expr, string name) => expr switch
    {
        IdentExpr ident => ident.Name == name,
        SelectExpr select => References(select.Operand, name),
        IndexExpr index => References(index.Operand, name) || References(index.Index, name),
        CallExpr call => (call.Target is not null && References(call.Target, name)) || call.Args.Any(a => References(a, name)),
        ListExpr list => list.Items.Any(i => References(i, name)),
        MapExpr map => map.Entries.Any(e => References(e.Key, name) || References(e.Value, name)),
        UnaryExpr unary => References(unary.Operand, name),
        BinaryExpr binary => References(binary.Left, name) || References(binary.Right, name),
        ConditionalExpr c => References(c.Condition, name) || References(c.Then, name) || References(c.Else, name),
        MacroExpr macro => References(macro.Range, name)
            || (macro.Variable != name && (References(macro.Body, name) || (macro.Filter is not null && References(macro.Filter, name)))),
        _ => false,
    };

    private static void Collect(CelExpr expr, string variable, List<IReadOnlyList<string>> paths)
    {
        if (expr is SelectExpr && SelectChain(expr, variable) is { } chain)
        {
            paths.Add(chain);
            return;
        }

        foreach (var child in Children(expr))
        {
            Collect(child, variable, paths);
        }
    }

    private static List<string>? SelectChain(CelExpr expr, string variable)
    {
        switch (expr)
        {
            case IdentExpr ident when ident.Name == variable:
                return [];
            case SelectExpr select when SelectChain(select.Operand, variable) is { } prefix:
                prefix.Add(select.Field);
                return prefix;
            default:
                return null;
        }
    }

    private static IEnumerable<CelExpr> Children(CelExpr expr) => expr switch
    {
        SelectExpr select => [select.Operand],
        IndexExpr index => [index.Operand, index.Index],
        CallExpr call => call.Target is null ? call.Args : [call.Target, .. call.Args],
        ListExpr list => list.Items,
        MapExpr map => map.Entries.SelectMany(e => new[] { e.Key, e.Value }),
        UnaryExpr unary => [unary.Operand],
        BinaryExpr binary => [binary.Left, binary.Right],
        ConditionalExpr c => [c.Condition, c.Then, c.Else],
        MacroExpr macro => macro.Filter is null ? [macro.Range, macro.Body] : [macro.Range, macro.Filter, macro.Body],
        _ => [],
    };

    private sealed class Evaluator(IReadOnlyDictionary<string, object?> variables)
    {
        private readonly Dictionary<string, object?> scope = new(variables);

        public object? Eval(CelExpr expr) => expr switch
        {
            LiteralExpr literal => literal.Value,
            IdentExpr ident => scope.TryGetValue(ident.Name, out var value) ? value : throw new CelException($"no such attribute '{ident.Name}'"),
            SelectExpr select => Select(select),
            IndexExpr index => Index(Eval(index.Operand), Eval(index.Index)),
            ListExpr list => list.Items.Select(Eval).ToList(),
            MapExpr map => new CelMap(map.Entries.Select(e => new KeyValuePair<object, object?>(MapKey(Eval(e.Key)), Eval(e.Value)))),
            UnaryExpr unary => Unary(unary),
            BinaryExpr binary => Binary(binary),
            ConditionalExpr conditional => AsBool(Eval(conditional.Condition), "?:") ? Eval(conditional.Then) : Eval(conditional.Else),
            CallExpr call => Call(call),
            MacroExpr macro => Macro(macro),
            _ => throw new CelException($"unsupported expression {expr.GetType().Name}"),
        };

        private object? Select(SelectExpr select)
        {
            var operand = Eval(select.Operand);
            if (operand is not CelMap map)
            {
                throw new CelException($"type '{TypeName(operand)}' does not support field selection");
            }

            if (select.PresenceTest)
            {
                return map.ContainsKey(select.Field);
            }

            return map.TryGetValue(select.Field, out var value) ? value : throw new CelException($"no such key: {select.Field}");
        }

        private static object? Index(object? operand, object? index)
        {
            switch (operand)
            {
                case IList list:
                    var position = index switch
                    {
                        long l => l,
                        ulong u => (long)u,
                        double d when d == Math.Floor(d) => (long)d,
                        _ => throw new CelException($"list index must be an int, not {TypeName(index)}"),
                    };
                    return position >= 0 && position < list.Count
                        ? list[(int)position]
                        : throw new CelException($"index out of range: {position}");
                case CelMap map:
                    return map.TryGetValue(MapKey(index), out var value) ? value : throw new CelException($"no such key: {index}");
                default:
                    throw new CelException($"type '{TypeName(operand)}' does not support indexing");
            }
        }

        private object? Unary(UnaryExpr unary)
        {
            var value = Eval(unary.Operand);
            return unary.Op switch
            {
                "!" => !AsBool(value, "!"),
                "-" => value switch
                {
                    long l => (object)checked(-l),
                    double d => -d,
                    _ => throw NoOverload("-", value),
                },
                _ => throw new CelException($"unknown operator {unary.Op}"),
            };
        }

        private object? Binary(BinaryExpr binary)
        {
            if (binary.Op is "&&" or "||")
            {
                return Logical(binary);
            }

            var left = Eval(binary.Left);
            var right = Eval(binary.Right);
            return binary.Op switch
            {
                "==" => CelEquals(left, right),
                "!=" => !CelEquals(left, right),
                "<" => Compare(left, right, binary.Op) < 0,
                "<=" => Compare(left, right, binary.Op) <= 0,
                ">" => Compare(left, right, binary.Op) > 0,
                ">=" => Compare(left, right, binary.Op) >= 0,
                "in" => right switch
                {
                    IList list => list.Cast<object?>().Any(item => CelEquals(item, left)),
                    CelMap map => map.ContainsKey(MapKey(left)),
                    _ => throw NoOverload("in", right),
                },
                "+" => Add(left, right),
                "-" => Arithmetic(left, right, "-", (a, b) => checked(a - b), (a, b) => checked(a - b), (a, b) => a - b),
                "*" => Arithmetic(left, right, "*", (a, b) => checked(a * b), (a, b) => checked(a * b), (a, b) => a * b),
                "/" => Arithmetic(left, right, "/", (a, b) => b == 0 ? throw new CelException("division by zero") : a / b,
                    (a, b) => b == 0 ? throw new CelException("division by zero") : a / b, (a, b) => a / b),
                "%" => Arithmetic(left, right, "%", (a, b) => b == 0 ? throw new CelException("modulus by zero") : a % b,
                    (a, b) => b == 0 ? throw new CelException("modulus by zero") : a % b, (a, _) => throw NoOverload("%", a)),
                _ => throw new CelException($"unknown operator {binary.Op}"),
            };
        }

        /// <summary>CEL's commutative logic: an error on one side is absorbed when the other side decides the result.</summary>
        private bool Logical(BinaryExpr binary)
        {
            var deciding = binary.Op == "||";
            CelException? leftError = null;
            try
            {
                if (AsBool(Eval(binary.Left), binary.Op) == deciding)
                {
                    return deciding;
                }
            }
            catch (CelException e)
            {
                leftError = e;
            }

            var right = AsBool(Eval(binary.Right), binary.Op);
            if (right == deciding)
            {
                return deciding;
            }

            return leftError is null ? !deciding : throw leftError;
        }

        private static object Add(object? left, object? right) => (left, right) switch
        {
            (string a, string b) => a + b,
            (byte[] a, byte[] b) => a.Concat(b).ToArray(),
            (IList a, IList b) => a.Cast<object?>().Concat(b.Cast<object?>()).ToList(),
            _ => Arithmetic(left, right, "+", (a, b) => checked(a + b), (a, b) => checked(a + b), (a, b) => a + b),
        };

        private static object Arithmetic(
            object? left, object? right, string op, Func<long, long, long> ints, Func<ulong, ulong, ulong> uints, Func<double, double, double> doubles)
        {
            try
            {
                return (left, right) switch
                {
                    // Boxed per arm: a switch of long/ulong/double arms would otherwise widen all to double.
                    (long a, long b) => (object)ints(a, b),
                    (ulong a, ulong b) => uints(a, b),
                    (double a, double b) => doubles(a, b),
                    _ => throw NoOverload(op, left, right),
                };
            }
            catch (OverflowException)
            {
                throw new CelException("return error for overflow");
            }
        }

        private object? Call(CallExpr call)
        {
            if (call.Target is null)
            {
                var args = call.Args.Select(Eval).ToList();
                return call.Function switch
                {
                    "size" when args.Count == 1 => Size(args[0]),
                    "matches" when args.Count == 2 => Matches(args[0], args[1]),
                    "int" when args.Count == 1 => ToInt(args[0]),
                    "uint" when args.Count == 1 => ToUint(args[0]),
                    "double" when args.Count == 1 => ToDouble(args[0]),
                    "string" when args.Count == 1 => ToCelString(args[0]),
                    "bool" when args.Count == 1 => args[0] switch
                    {
                        bool b => b,
                        string s when bool.TryParse(s, out var parsed) => parsed,
                        _ => throw NoOverload("bool", args[0]),
                    },
                    "bytes" when args.Count == 1 && args[0] is string s => Encoding.UTF8.GetBytes(s),
                    "dyn" when args.Count == 1 => args[0],
                    "type" when args.Count == 1 => TypeName(args[0]),
                    _ => throw new CelException($"found no matching overload for '{call.Function}' with {args.Count} arguments"),
                };
            }

            var target = Eval(call.Target);
            var a = call.Args.Select(Eval).ToList();
            return (call.Function, target, a.Count) switch
            {
                ("size", _, 0) => Size(target),
                ("matches", _, 1) => Matches(target, a[0]),
                ("startsWith", string s, 1) => s.StartsWith(AsString(a[0]), StringComparison.Ordinal),
                ("endsWith", string s, 1) => s.EndsWith(AsString(a[0]), StringComparison.Ordinal),
                ("contains", string s, 1) => s.Contains(AsString(a[0]), StringComparison.Ordinal),
                ("lowerAscii", string s, 0) => s.ToLowerInvariant(),
                ("upperAscii", string s, 0) => s.ToUpperInvariant(),
                ("trim", string s, 0) => s.Trim(),
                ("split", string s, 1) => s.Split(AsString(a[0])).Cast<object?>().ToList(),
                ("join", IList list, 0) => string.Concat(list.Cast<object?>().Select(AsString)),
                ("join", IList list, 1) => string.Join(AsString(a[0]), list.Cast<object?>().Select(AsString)),
                ("indexOf", string s, 1) => (long)s.IndexOf(AsString(a[0]), StringComparison.Ordinal),
                ("lastIndexOf", string s, 1) => (long)s.LastIndexOf(AsString(a[0]), StringComparison.Ordinal),
                ("indexOf", IList list, 1) => (long)list.Cast<object?>().ToList().FindIndex(item => CelEquals(item, a[0])),
                ("lastIndexOf", IList list, 1) => (long)list.Cast<object?>().ToList().FindLastIndex(item => CelEquals(item, a[0])),
                ("replace", string s, 2) => s.Replace(AsString(a[0]), AsString(a[1]), StringComparison.Ordinal),
                ("charAt", string s, 1) => ToInt(a[0]) is var i && i >= 0 && i <= s.Length
                    ? (i == s.Length ? "" : s[(int)i].ToString())
                    : throw new CelException("index out of range"),
                ("substring", string s, 1) => s[(int)ToInt(a[0])..],
                ("substring", string s, 2) => s[(int)ToInt(a[0])..(int)ToInt(a[1])],
                ("find", string s, 1) => new Regex(AsString(a[0])).Match(s) is { Success: true } m ? m.Value : "",
                ("findAll", string s, 1) => new Regex(AsString(a[0])).Matches(s).Select(m => (object?)m.Value).ToList(),
                ("isSorted", IList list, 0) => list.Cast<object?>().Zip(list.Cast<object?>().Skip(1)).All(p => Compare(p.First, p.Second, "isSorted") <= 0),
                ("sum", IList list, 0) => list.Count == 0 ? 0L : list.Cast<object?>().Aggregate((x, y) => Add(x, y)),
                ("min", IList list, 0) when list.Count > 0 => list.Cast<object?>().Aggregate((x, y) => Compare(x, y, "min") <= 0 ? x : y),
                ("max", IList list, 0) when list.Count > 0 => list.Cast<object?>().Aggregate((x, y) => Compare(x, y, "max") >= 0 ? x : y),
                _ => throw new CelException($"found no matching overload for '{call.Function}' applied to '{TypeName(target)}'"),
            };
        }

        private object? Macro(MacroExpr macro)
        {
            var range = Eval(macro.Range) switch
            {
                IList list => list.Cast<object?>().ToList(),
                CelMap map => map.Keys.Cast<object?>().ToList(),
                var other => throw NoOverload(macro.Macro, other),
            };
            var saved = scope.TryGetValue(macro.Variable, out var previous);
            try
            {
                switch (macro.Macro)
                {
                    case "all":
                        return Quantify(range, macro, want: false);
                    case "exists":
                        return Quantify(range, macro, want: true);
                    case "exists_one":
                        return range.Count(item => Bind(macro.Variable, item, macro.Body)) == 1;
                    case "filter":
                        return range.Where(item => Bind(macro.Variable, item, macro.Body)).ToList();
                    case "map":
                        return range
                            .Where(item => macro.Filter is null || Bind(macro.Variable, item, macro.Filter))
                            .Select(item =>
                            {
                                scope[macro.Variable] = item;
                                return Eval(macro.Body);
                            })
                            .ToList();
                    default:
                        throw new CelException($"unknown macro {macro.Macro}");
                }
            }
            finally
            {
                if (saved)
                {
                    scope[macro.Variable] = previous;
                }
                else
                {
                    scope.Remove(macro.Variable);
                }
            }
        }

        /// <summary>all() and exists(): like || and &amp;&amp;, an error is absorbed when another element decides.</summary>
        private bool Quantify(List<object?> range, MacroExpr macro, bool want)
        {
            CelException? error = null;
            foreach (var item in range)
            {
                try
                {
                    if (Bind(macro.Variable, item, macro.Body) == want)
                    {
                        return want;
                    }
                }
                catch (CelException e)
                {
                    error ??= e;
                }
            }

            return error is null ? !want : throw error;
        }

        private bool Bind(string variable, object? item, CelExpr body)
        {
            scope[variable] = item;
            return AsBool(Eval(body), "macro predicate");
        }
    }

    private static long Size(object? value) => value switch
    {
        string s => s.EnumerateRunes().Count(),
        byte[] b => b.Length,
        IList list => list.Count,
        CelMap map => map.Count,
        _ => throw NoOverload("size", value),
    };

    private static bool Matches(object? text, object? pattern)
    {
        try
        {
            return Schema.Re2Pattern.IsMatch(AsString(text), AsString(pattern));
        }
        catch (ArgumentException e)
        {
            throw new CelException(e.Message);
        }
    }

    private static long ToInt(object? value) => value switch
    {
        long l => l,
        ulong u => u <= long.MaxValue ? (long)u : throw new CelException("int range error"),
        double d => d is >= long.MinValue and < long.MaxValue ? (long)Math.Truncate(d) : throw new CelException("int range error"),
        string s => long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l) ? l : throw new CelException($"cannot convert '{s}' to int"),
        _ => throw NoOverload("int", value),
    };

    private static ulong ToUint(object? value) => value switch
    {
        ulong u => u,
        long l => l >= 0 ? (ulong)l : throw new CelException("uint range error"),
        double d => d is >= 0 and < ulong.MaxValue ? (ulong)Math.Truncate(d) : throw new CelException("uint range error"),
        string s => ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var u) ? u : throw new CelException($"cannot convert '{s}' to uint"),
        _ => throw NoOverload("uint", value),
    };

    private static double ToDouble(object? value) => value switch
    {
        double d => d,
        long l => l,
        ulong u => u,
        string s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : throw new CelException($"cannot convert '{s}' to double"),
        _ => throw NoOverload("double", value),
    };

    private static string ToCelString(object? value) => value switch
    {
        string s => s,
        bool b => b ? "true" : "false",
        long l => l.ToString(CultureInfo.InvariantCulture),
        ulong u => u.ToString(CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        byte[] b => Encoding.UTF8.GetString(b),
        _ => throw NoOverload("string", value),
    };

    private static string AsString(object? value) => value as string ?? throw new CelException($"expected a string, got {TypeName(value)}");

    private static bool AsBool(object? value, string where) =>
        value is bool b ? b : throw new CelException($"no such overload: {where} applied to '{TypeName(value)}'");

    private static object MapKey(object? key) => key switch
    {
        string or long or ulong or bool => key,
        double d when d == Math.Floor(d) => (long)d,
        _ => throw new CelException($"unsupported map key type {TypeName(key)}"),
    };

    /// <summary>Heterogeneous equality: numbers compare by value across int, uint and double; lists and maps deeply.</summary>
    public static bool CelEquals(object? left, object? right)
    {
        switch (left, right)
        {
            case (null, null):
                return true;
            case (null, _) or (_, null):
                return false;
            case (byte[] a, byte[] b):
                return a.AsSpan().SequenceEqual(b);
            case (IList a, IList b):
                return a.Count == b.Count && a.Cast<object?>().Zip(b.Cast<object?>()).All(p => CelEquals(p.First, p.Second));
            case (CelMap a, CelMap b):
                return a.Count == b.Count && a.All(p => b.TryGetValue(p.Key, out var other) && CelEquals(p.Value, other));
        }

        if (IsNumber(left) && IsNumber(right))
        {
            return NumericCompare(left, right) == 0;
        }

        return left.GetType() == right.GetType() && left.Equals(right);
    }

    private static int Compare(object? left, object? right, string op)
    {
        if (IsNumber(left) && IsNumber(right))
        {
            return NumericCompare(left!, right!);
        }

        return (left, right) switch
        {
            (string a, string b) => string.CompareOrdinal(a, b),
            (bool a, bool b) => a.CompareTo(b),
            (byte[] a, byte[] b) => a.AsSpan().SequenceCompareTo(b),
            _ => throw NoOverload(op, left, right),
        };
    }

    private static bool IsNumber(object? value) => value is long or ulong or double;

    private static int NumericCompare(object left, object right) => (left, right) switch
    {
        (long a, long b) => a.CompareTo(b),
        (ulong a, ulong b) => a.CompareTo(b),
        (long a, ulong b) => a < 0 ? -1 : ((ulong)a).CompareTo(b),
        (ulong a, long b) => b < 0 ? 1 : a.CompareTo((ulong)b),
        _ => Convert.ToDouble(left, CultureInfo.InvariantCulture).CompareTo(Convert.ToDouble(right, CultureInfo.InvariantCulture)),
    };

    internal static string TypeName(object? value) => value switch
    {
        null => "null_type",
        bool => "bool",
        long => "int",
        ulong => "uint",
        double => "double",
        string => "string",
        byte[] => "bytes",
        IList => "list",
        CelMap => "map",
        _ => value.GetType().Name,
    };

    private static CelException NoOverload(string op, params object?[] args) =>
        new($"found no matching overload for '{op}' applied to '({string.Join(", ", args.Select(TypeName))})'");
}

/// <summary>A CEL map; JSON objects bind as maps whose keys are their field names.</summary>
public sealed class CelMap(IEnumerable<KeyValuePair<object, object?>> entries) : Dictionary<object, object?>(entries);

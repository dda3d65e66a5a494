using System.Globalization;
using System.Text;

namespace Gentoo.ApiServer.Cel;

internal enum TokenKind
{
    Identifier,
    Int,
    Uint,
    Double,
    String,
    Bytes,
    Punctuation,
    End,
}

internal readonly record struct Token(TokenKind Kind, string Text, object? Value, int Position);

/// <summary>Splits a CEL expression into tokens, following the lexical grammar of the CEL language definition.</summary>
internal static class CelLexer
{
    private static readonly string[] Punctuations =
        ["&&", "||", "==", "!=", "<=", ">=", "<", ">", "!", "+", "-", "*", "/", "%", "?", ":", ".", ",", "(", ")", "[", "]", "{", "}"];

    public static List<Token> Tokenize(string text)
    {
        var tokens = new List<Token>();
        var i = 0;
        while (true)
        {
            while (i < text.Length && char.IsWhiteSpace(text[i]))
            {
                i++;
            }

            if (i + 1 < text.Length && text[i] == '/' && text[i + 1] == '/')
            {
                while (i < text.Length && text[i] != '\n')
                {
                    i++;
                }

                continue;
            }

            if (i >= text.Length)
            {
                tokens.Add(new Token(TokenKind.End, "", null, i));
                return tokens;
            }

            var start = i;
            var c = text[i];
            if (IsStringStart(text, i, out var prefixLength, out var raw, out var bytes))
            {
                i += prefixLength;
                var value = ReadString(text, ref i, raw);
                tokens.Add(bytes
                    ? new Token(TokenKind.Bytes, text[start..i], Encoding.UTF8.GetBytes(value), start)
                    : new Token(TokenKind.String, text[start..i], value, start));
                continue;
            }

            if (char.IsDigit(c) || (c == '.' && i + 1 < text.Length && char.IsDigit(text[i + 1])))
            {
                tokens.Add(ReadNumber(text, ref i));
                continue;
            }

            if (char.IsLetter(c) || c == '_')
            {
                while (i < text.Length && (char.IsLetterOrDigit(text[i]) || text[i] == '_'))
                {
                    i++;
                }

                tokens.Add(new Token(TokenKind.Identifier, text[start..i], null, start));
                continue;
            }

            var punctuation = Punctuations.FirstOrDefault(p => string.CompareOrdinal(text, i, p, 0, p.Length) == 0)
                ?? throw new CelException($"unexpected character '{c}' at position {i}");
            i += punctuation.Length;
            tokens.Add(new Token(TokenKind.Punctuation, punctuation, null, start));
        }
    }

    private static bool IsStringStart(string text, int i, out int prefixLength, out bool raw, out bool bytes)
    {
        raw = false;
        bytes = false;
        prefixLength = 0;
        var j = i;
        while (j < text.Length && j - i < 2 && text[j] is 'r' or 'R' or 'b' or 'B')
        {
            raw |= text[j] is 'r' or 'R';
            bytes |= text[j] is 'b' or 'B';
            j++;
        }

        if (j < text.Length && text[j] is '"' or '\'')
        {
            prefixLength = j - i;
            return true;
        }

        return false;
    }

    private static string ReadString(string text, ref int i, bool raw)
    {
        var quote = text[i];
        var triple = i + 2 < text.Length && text[i + 1] == quote && text[i + 2] == quote;
        var delimiter = triple ? new string(quote, 3) : quote.ToString();
        i += delimiter.Length;
        var builder = new StringBuilder();
        while (true)
        {
            if (i >= text.Length)
            {
                throw new CelException("unterminated string literal");
            }

            if (string.CompareOrdinal(text, i, delimiter, 0, delimiter.Length) == 0)
            {
                i += delimiter.Length;
                return builder.ToString();
            }

            var c = text[i];
            if (!triple && c is '\n' or '\r')
            {
                throw new CelException("newline in string literal");
            }

            if (c == '\\' && !raw)
            {
                i++;
                builder.Append(ReadEscape(text, ref i));
                continue;
            }

            builder.Append(c);
            i++;
        }
    }

    private static string ReadEscape(string text, ref int i)
    {
        if (i >= text.Length)
        {
            throw new CelException("unterminated escape sequence");
        }

        var c = text[i++];
        switch (c)
        {
            case 'a': return "\a";
            case 'b': return "\b";
            case 'f': return "\f";
            case 'n': return "\n";
            case 'r': return "\r";
            case 't': return "\t";
            case 'v': return "\v";
            case '\\' or '\'' or '"' or '`' or '?': return c.ToString();
            case 'x' or 'X': return HexEscape(text, ref i, 2);
            case 'u': return HexEscape(text, ref i, 4);
            case 'U': return HexEscape(text, ref i, 8);
            case >= '0' and <= '3':
                if (i + 1 >= text.Length)
                {
                    throw new CelException("invalid octal escape");
                }

                var octal = Convert.ToInt32(text.Substring(i - 1, 3), 8);
                i += 2;
                return ((char)octal).ToString();
            default: throw new CelException($"invalid escape sequence \\{c}");
        }
    }

    private static string HexEscape(string text, ref int i, int digits)
    {
        if (i + digits > text.Length)
        {
            throw new CelException("truncated hex escape");
        }

        var code = int.Parse(text.AsSpan(i, digits), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        i += digits;
        return char.ConvertFromUtf32(code);
    }

    private static Token ReadNumber(string text, ref int i)
    {
        var start = i;
        if (text[i] == '0' && i + 1 < text.Length && text[i + 1] is 'x' or 'X')
        {
            i += 2;
            while (i < text.Length && Uri.IsHexDigit(text[i]))
            {
                i++;
            }

            var hex = ulong.Parse(text.AsSpan(start + 2, i - start - 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (i < text.Length && text[i] is 'u' or 'U')
            {
                i++;
                return new Token(TokenKind.Uint, text[start..i], hex, start);
            }

            return new Token(TokenKind.Int, text[start..i], checked((long)hex), start);
        }

        var isDouble = false;
        while (i < text.Length && char.IsDigit(text[i]))
        {
            i++;
        }

        if (i + 1 < text.Length && text[i] == '.' && char.IsDigit(text[i + 1]))
        {
            isDouble = true;
            i++;
            while (i < text.Length && char.IsDigit(text[i]))
            {
                i++;
            }
        }

        if (i < text.Length && text[i] is 'e' or 'E')
        {
            isDouble = true;
            i++;
            if (i < text.Length && text[i] is '+' or '-')
            {
                i++;
            }

            while (i < text.Length && char.IsDigit(text[i]))
            {
                i++;
            }
        }

        var literal = text[start..i];
        if (isDouble)
        {
            return new Token(TokenKind.Double, literal, double.Parse(literal, CultureInfo.InvariantCulture), start);
        }

        if (i < text.Length && text[i] is 'u' or 'U')
        {
            i++;
            return new Token(TokenKind.Uint, text[start..i], ulong.Parse(literal, CultureInfo.InvariantCulture), start);
        }

        return long.TryParse(literal, NumberStyles.None, CultureInfo.InvariantCulture, out var value)
            ? new Token(TokenKind.Int, literal, value, start)
            : throw new CelException($"integer literal {literal} overflows int64");
    }
}

/// <summary>A CEL expression failed to compile or evaluate.</summary>
public sealed class CelException(string message) : Exception(message);

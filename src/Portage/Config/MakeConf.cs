using System.Text;

namespace Gentoo.Portage.Config;

/// <summary>A make.conf Portage would refuse; the message names the line and what would be valid.</summary>
public sealed class MakeConfException(string message) : Exception(message);

/// <summary>One statement of a make.conf: an assignment, or a <c>source</c> of another file.</summary>
/// <param name="Line">The 1-based line the statement starts on.</param>
/// <param name="Name">The variable, or null for <c>source</c>.</param>
/// <param name="Value">The value as written, quotes removed, <c>${VAR}</c> references left as they are.</param>
public sealed record MakeConfStatement(int Line, string? Name, string Value);

/// <summary>
/// Reads make.conf the way Portage's getconfig does: a shell-like list of tokens, NAME = VALUE statements (spaces
/// around '=' allowed, an optional leading <c>export</c>), values quoted with " or ' that may span lines, backslash
/// escapes, '#' comments where a token would start, <c>source FILE</c>, and <c>${VAR}</c> references (expanded by
/// Portage later, so kept as written). It refuses only what Portage refuses: a name that is not a variable, a
/// statement without '=', an unquoted value that splits into words, an unterminated quote.
/// </summary>
public static class MakeConf
{
    /// <summary>Characters Portage's tokenizer takes as part of a word (its shlex wordchars).</summary>
    private const string WordCharacters = "~!@#$%*_\\:;?,./-+{}";

    public static IReadOnlyList<MakeConfStatement> Parse(string text)
    {
        var tokens = Tokens(text).ToList();
        var statements = new List<MakeConfStatement>();
        for (var i = 0; i < tokens.Count; i++)
        {
            var (line, word, quoted) = tokens[i];
            if (!quoted && word == "source")
            {
                if (i + 1 >= tokens.Count || tokens[i + 1].Word == "=")
                {
                    throw new MakeConfException($"line {line}: 'source' needs a file to read, as in source /etc/portage/make.conf.local");
                }

                statements.Add(new MakeConfStatement(line, null, tokens[++i].Word));
                continue;
            }

            if (!quoted && word == "export" && i + 1 < tokens.Count && tokens[i + 1].Word != "=")
            {
                (line, word, quoted) = tokens[++i];
            }

            if (statements.Count > 0 && statements[^1] is { Name: { } previous } && tokens[i - 1].Line == line && (quoted || !IsVariableName(word) || i + 1 >= tokens.Count || tokens[i + 1].Word != "="))
            {
                throw new MakeConfException($"line {line}: the value of {previous} goes on after a space ('{Clip(word)}'): quote a value that holds spaces, as {previous}=\"...\"");
            }

            if (quoted || !IsVariableName(word))
            {
                throw new MakeConfException($"line {line}: expected a variable name (letters, digits and _, not starting with a digit) before '=', got '{Clip(word)}'");
            }

            if (i + 1 >= tokens.Count || tokens[i + 1].Word != "=" || tokens[i + 1].Quoted)
            {
                var next = i + 1 < tokens.Count ? $"'{Clip(tokens[i + 1].Word)}'" : "the end of the file";
                throw new MakeConfException($"line {line}: expected NAME=\"value\" after {word}, got {next} (quote a value that holds spaces)");
            }

            var nextIsStatement = i + 3 < tokens.Count && tokens[i + 3] is { Word: "=", Quoted: false } && tokens[i + 2].Line != tokens[i + 1].Line;
            if (i + 2 >= tokens.Count || nextIsStatement)
            {
                throw new MakeConfException($"line {line}: {word}= has no value (write {word}=\"\" for an empty one)");
            }

            statements.Add(new MakeConfStatement(line, word, tokens[i + 2].Word));
            i += 2;
        }

        return statements;
    }

    public static bool IsVariableName(string word) =>
        word.Length > 0 && (char.IsAsciiLetter(word[0]) || word[0] == '_') && word.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    private static string Clip(string word) => word.Length > 60 ? word[..60] + "..." : word.Replace("\n", "\\n", StringComparison.Ordinal);

    private static bool IsWordCharacter(char c) => char.IsAsciiLetterOrDigit(c) || WordCharacters.Contains(c, StringComparison.Ordinal) || c > 127;

    /// <summary>
    /// Portage's tokens (POSIX shlex with its word characters): whitespace separates, quotes join, a backslash takes the
    /// next character as it is, '#' at the start of a token comments out the rest of the line, any other character
    /// ('=' above all) is a token of its own.
    /// </summary>
    private static IEnumerable<(int Line, string Word, bool Quoted)> Tokens(string text)
    {
        var line = 1;
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (c == '\n')
            {
                line++;
                i++;
                continue;
            }

            if (char.IsWhiteSpace(c))
            {
                i++;
                continue;
            }

            if (c == '#')
            {
                while (i < text.Length && text[i] != '\n')
                {
                    i++;
                }

                continue;
            }

            if (!IsWordCharacter(c) && c is not ('"' or '\'' or '\\'))
            {
                yield return (line, c.ToString(), false);
                i++;
                continue;
            }

            var start = line;
            var word = new StringBuilder();
            var quoted = false;
            while (i < text.Length)
            {
                c = text[i];
                if (c is '"' or '\'')
                {
                    quoted = true;
                    var quote = c;
                    var opened = line;
                    i++;
                    while (true)
                    {
                        if (i >= text.Length)
                        {
                            throw new MakeConfException($"line {opened}: the {(quote == '"' ? "double" : "single")} quote opened here is never closed");
                        }

                        c = text[i];
                        if (c == quote)
                        {
                            i++;
                            break;
                        }

                        if (c == '\\' && quote == '"' && i + 1 < text.Length && text[i + 1] is '"' or '\\')
                        {
                            word.Append(text[i + 1]);
                            i += 2;
                            continue;
                        }

                        if (c == '\n')
                        {
                            line++;
                        }

                        word.Append(c);
                        i++;
                    }

                    continue;
                }

                if (c == '\\')
                {
                    if (i + 1 < text.Length)
                    {
                        if (text[i + 1] == '\n')
                        {
                            line++;
                        }

                        word.Append(text[i + 1]);
                    }

                    i += 2;
                    continue;
                }

                if (!IsWordCharacter(c))
                {
                    break;
                }

                word.Append(c);
                i++;
            }

            yield return (start, word.ToString(), quoted);
        }
    }
}

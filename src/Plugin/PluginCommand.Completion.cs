using System.CommandLine;
using System.CommandLine.Completions;
using System.Text;
using Gentoo.Entities.V1Alpha1;
using k8s;

namespace Gentoo.Plugin;

/// <summary>
/// Completion: __complete answers in the format kubectl (cobra) reads from a plugin's kubectl_complete-gentoo companion
/// (one candidate per line, then ":4", no file names), and completion SHELL prints scripts for the shells and that
/// companion. Resource names come from the cluster of the words' kubeconfig, context and namespace.
/// </summary>
public static partial class PluginCommand
{
    /// <summary>The hidden verb kubectl_complete-gentoo and the shell scripts call with the words typed so far, after "--" (so that -n and --kubeconfig among them are words, not options of this call).</summary>
    public const string CompleteVerb = "__complete";

    /// <summary>Cobra's ShellCompDirectiveNoFileComp: the shell offers no file names beside the candidates.</summary>
    private const string NoFiles = ":4";

    private static Command Complete(TextWriter output)
    {
        var words = new Argument<string[]>("WORDS") { Arity = ArgumentArity.ZeroOrMore };
        var command = new Command(CompleteVerb, "Candidates for the last of WORDS (for shells and kubectl)") { words };
        command.Hidden = true;
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (result, ct) =>
        {
            var typed = result.GetValue(words) ?? [];
            var root = Create(TextWriter.Null, TextWriter.Null);
            // The words as one command line with the cursor at its end: an empty last word is a trailing space.
            var line = string.Join(' ', typed.Select(Quote));
            IEnumerable<string> candidates;
            try
            {
                // By prefix, as shells match; flags only once a '-' is typed; none of the Windows spellings of help.
                var word = typed.Length == 0 ? "" : typed[^1];
                candidates = root.Parse(line).GetCompletions(line.Length).Select(c => c.Label)
                    .Where(c => c.StartsWith(word, StringComparison.Ordinal) && c != CompleteVerb && !c.StartsWith('/') && c != "-?")
                    .Where(c => word.StartsWith('-') || !c.StartsWith('-'))
                    .Distinct().ToList();
            }
            catch (InvalidOperationException)
            {
                candidates = []; // System.CommandLine finds no symbol to complete in some half-typed lines: offer nothing
            }

            var text = new StringBuilder();
            foreach (var candidate in candidates)
            {
                text.Append(candidate).Append('\n');
            }

            text.Append(NoFiles).Append('\n');
            await output.WriteAsync(text.ToString());
            return 0;
        });
        return command;
    }

    private static string Quote(string word) => word.Contains(' ', StringComparison.Ordinal) ? $"\"{word}\"" : word;

    private static Command Completion(TextWriter output, TextWriter error)
    {
        var shell = new Argument<string>("SHELL") { Description = "bash, zsh, fish, powershell, or kubectl (the kubectl_complete-gentoo companion)" };
        shell.CompletionSources.Add(Scripts.Keys.ToArray());
        var command = new Command("completion", "A completion script for a shell, or the companion that lets kubectl complete kubectl gentoo") { shell };
        command.SetAction(async (result, ct) =>
        {
            var name = result.GetValue(shell)!;
            if (!Scripts.TryGetValue(name, out var script))
            {
                await error.WriteLineAsync($"error: completion {name}: expected one of {string.Join(", ", Scripts.Keys)}");
                return 1;
            }

            await output.WriteAsync(script);
            return 0;
        });
        AddExamples(command,
            "kubectl gentoo completion kubectl > ~/.local/bin/kubectl_complete-gentoo && chmod +x ~/.local/bin/kubectl_complete-gentoo",
            "source <(kubectl-gentoo completion bash)",
            "kubectl-gentoo completion fish > ~/.config/fish/completions/kubectl-gentoo.fish");
        return command;
    }

    private static readonly Dictionary<string, string> Scripts = new(StringComparer.Ordinal)
    {
        ["kubectl"] = "#!/bin/sh\n# kubectl runs this to complete kubectl gentoo's arguments (kubectl 1.26 and later); keep it on PATH.\nexec kubectl-gentoo " + CompleteVerb + " -- \"$@\"\n",
        ["bash"] = """
            # kubectl-gentoo completion for bash: source <(kubectl-gentoo completion bash)
            _kubectl_gentoo() {
              local IFS=$'\n'
              COMPREPLY=($(compgen -W "$(kubectl-gentoo __complete -- "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null | grep -v '^:')" -- "${COMP_WORDS[COMP_CWORD]}"))
            }
            complete -o default -F _kubectl_gentoo kubectl-gentoo

            """,
        ["zsh"] = """
            #compdef kubectl-gentoo
            # kubectl-gentoo completion for zsh: kubectl-gentoo completion zsh > "${fpath[1]}/_kubectl-gentoo"
            _kubectl_gentoo() {
              local -a candidates
              candidates=("${(@f)$(kubectl-gentoo __complete -- "${(@)words[2,$CURRENT]}" 2>/dev/null | grep -v '^:')}")
              compadd -a candidates
            }
            compdef _kubectl_gentoo kubectl-gentoo

            """,
        ["fish"] = """
            # kubectl-gentoo completion for fish: kubectl-gentoo completion fish > ~/.config/fish/completions/kubectl-gentoo.fish
            complete -c kubectl-gentoo -f -a '(kubectl-gentoo __complete -- (commandline -opc)[2..-1] (commandline -ct) 2>/dev/null | string match -v ":*")'

            """,
        ["powershell"] = """
            # kubectl-gentoo completion for PowerShell: kubectl-gentoo completion powershell | Out-String | Invoke-Expression
            Register-ArgumentCompleter -Native -CommandName kubectl-gentoo -ScriptBlock {
              param($wordToComplete, $commandAst, $cursorPosition)
              $words = @($commandAst.CommandElements | Select-Object -Skip 1 | ForEach-Object { $_.ToString() })
              if ($wordToComplete -eq '') { $words += '' }
              kubectl-gentoo __complete -- @words 2>$null | Where-Object { $_ -notlike ':*' } | ForEach-Object {
                [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_)
              }
            }

            """,
    };

    /// <summary>Candidates for a BUILDER argument: the builders of the namespace the words name (or the context's).</summary>
    private static IEnumerable<string> BuilderNames(CompletionContext context) => Names<GentooBuilder>(context, r => [r.Metadata.Name]);

    /// <summary>Candidates for a RUN argument: the runs, and BUILDER@latest for each builder.</summary>
    private static IEnumerable<string> RunNames(CompletionContext context) =>
        Names<BuildRun>(context, r => [r.Metadata.Name]).Concat(Names<GentooBuilder>(context, b => [b.Metadata.Name + Latest]));

    private static IEnumerable<string> Names<T>(CompletionContext context, Func<T, IEnumerable<string>> names)
        where T : class, IKubernetesObject<k8s.Models.V1ObjectMeta>
    {
        try
        {
            using var cluster = Cluster.Connect(context.ParseResult.GetValue(Kubeconfig), context.ParseResult.GetValue(Context), context.ParseResult.GetValue(Namespace));
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            return [.. cluster.ListAsync<T>(allNamespaces: false, deadline.Token).GetAwaiter().GetResult().SelectMany(names).Order(StringComparer.Ordinal)];
        }
        catch (Exception e) when (e is PluginException or HttpRequestException or k8s.Autorest.HttpOperationException or OperationCanceledException or k8s.Exceptions.KubeConfigException)
        {
            return []; // no cluster to ask: nothing to offer, never an error in the middle of a command line
        }
    }
}

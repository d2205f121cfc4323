using System.CommandLine;
using System.Reflection;
using NatMap.Iptables;

namespace NatMap.Cli;

/// <summary>
/// The natmap command line on System.CommandLine. Exit codes: 0 done; 1 a command failed (or Setup is missing);
/// 2 a usage or validation error, with nothing run; 3 the audit found a mapping reachable in a way its binding excludes.
/// </summary>
internal static class CliApp
{
    public const int Success = 0;
    public const int Failed = 1;
    public const int Invalid = 2;
    public const int Exposed = 3;

    /// <summary>Runs the command line.</summary>
    /// <param name="args">The arguments.</param>
    /// <param name="output">Standard output: results, printed commands.</param>
    /// <param name="error">Standard error: notes, progress and errors.</param>
    /// <param name="runner">The runner that reaches the host (reads always, changes with --apply); <see langword="null"/> for the real one.</param>
    /// <param name="showProgress">Whether long applies may draw a progress line (a terminal, not redirected).</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    /// <returns>The exit code.</returns>
    public static async Task<int> RunAsync(
        IReadOnlyList<string> args, TextWriter output, TextWriter error, ICommandRunner? runner, bool showProgress, CancellationToken cancellationToken)
    {
        var root = Commands.Build(new CliEnvironment(output, error, runner, showProgress));
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var parseError in parsed.Errors)
            {
                await error.WriteLineAsync($"natmap: {parseError.Message}").ConfigureAwait(false);
            }

            await error.WriteLineAsync($"Run '{string.Join(' ', CommandPath(parsed))} --help' for usage.").ConfigureAwait(false);
            return Invalid;
        }

        return await parsed.InvokeAsync(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false }, cancellationToken)
            .ConfigureAwait(false);
    }

    public static string Version =>
        typeof(IptablesManager).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    private static Stack<string> CommandPath(ParseResult parsed)
    {
        var names = new Stack<string>();
        for (var result = parsed.CommandResult; result is not null; result = result.Parent as System.CommandLine.Parsing.CommandResult)
        {
            names.Push(result.Command is RootCommand ? "natmap" : result.Command.Name);
        }

        return names;
    }
}

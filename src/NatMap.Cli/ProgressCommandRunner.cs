using System.Diagnostics;
using NatMap.Iptables;

namespace NatMap.Cli;

/// <summary>
/// Shows on a terminal how far a long apply has come: one line, rewritten at most five times a second, with the
/// processes run and the rules they carried. Used only when neither output is redirected.
/// </summary>
internal sealed class ProgressCommandRunner(ICommandRunner inner, TextWriter error, string verb) : ICommandRunner
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly object _lock = new();
    private TimeSpan _shown = TimeSpan.MinValue;
    private int _processes;
    private int _rules;
    private bool _dirty;

    public async Task<CommandResult> RunAsync(CommandSpec command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        var result = await inner.RunAsync(command, cancellationToken).ConfigureAwait(false);
        lock (_lock)
        {
            _processes++;
            _rules += command.StandardInput is { } input ? input.Split('\n').Count(static l => l.StartsWith("-A ", StringComparison.Ordinal) || l.StartsWith("-D ", StringComparison.Ordinal) || l.StartsWith("-I ", StringComparison.Ordinal)) : 1;
            if (_clock.Elapsed - _shown >= TimeSpan.FromMilliseconds(200))
            {
                _shown = _clock.Elapsed;
                _dirty = true;
                error.Write($"\rnatmap {verb}: {_processes} commands, {_rules} rule changes, {_clock.Elapsed.TotalSeconds:0.0} s ");
            }
        }

        return result;
    }

    /// <summary>Ends the progress line, if one was written.</summary>
    public void Finish()
    {
        lock (_lock)
        {
            if (_dirty)
            {
                error.WriteLine($"\rnatmap {verb}: {_processes} commands, {_rules} rule changes, {_clock.Elapsed.TotalSeconds:0.0} s, done.");
            }
        }
    }
}

using System.Net.Sockets;

namespace NatMap.Iptables.Internal;

/// <summary>
/// Applies one family's changes as one <c>iptables-restore --noflush</c> (<see cref="RuleApplyMode.Batch"/>). On
/// success the operation gets the inverse restore. On failure or cancellation it finds out what took effect, because
/// each table commits on its own and the tables before the failing one are already in.
/// </summary>
internal sealed class RestoreApplier(HostCommands commands, PartialCommit partial) : IRuleApplier
{
    /// <inheritdoc/>
    public async Task ApplyAsync(Operation operation, AddressFamily family, IReadOnlyList<RuleChange> changes, CancellationToken cancellationToken)
    {
        if (changes.Count == 0)
        {
            return;
        }

        var script = RestoreScript.Render(changes);
        var command = commands.Restore(family, script);
        cancellationToken.ThrowIfCancellationRequested(); // not started: nothing to read back
        CommandResult result;
        try
        {
            result = await operation.RunAsync(command, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // A timeout (TimeoutException) or a cancellation may come after some tables committed.
            await partial.JournalVisibleAsync(operation, family, changes).ConfigureAwait(false);
            throw;
        }

        if (!result.IsSuccess)
        {
            // iptables-restore names the line that failed: its table did not commit, the tables before it did. Reading
            // the tables back instead could take another writer's identical rules for ours and undo them.
            if (CommittedBefore(script, result.StandardError) is { } committed)
            {
                partial.JournalInverse(operation, family, [.. changes.Where(c => committed.Contains(c.Table))]);
            }
            else
            {
                await partial.JournalVisibleAsync(operation, family, changes).ConfigureAwait(false);
            }

            throw new IptablesCommandException(command, result);
        }

        partial.JournalInverse(operation, family, changes);
        operation.Executor.Telemetry.RulesChanged(family, changes);
    }

    /// <summary>
    /// The tables of <paramref name="script"/> that committed before the line its standard error names
    /// (<c>line N failed</c>, <c>line N: … failed</c>, <c>Error occurred at line: N</c>); <see langword="null"/> when it
    /// names none (a lock timeout), or a line outside the script.
    /// </summary>
    internal static HashSet<string>? CommittedBefore(string script, string standardError)
    {
        var match = System.Text.RegularExpressions.Regex.Match(standardError, @"\bline:? (\d+)\b", System.Text.RegularExpressions.RegexOptions.CultureInvariant);
        if (!match.Success || !int.TryParse(match.Groups[1].ValueSpan, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var failed))
        {
            return null;
        }

        var committed = new HashSet<string>(StringComparer.Ordinal);
        string? table = null;
        var number = 0;
        foreach (var line in script.Split('\n'))
        {
            number++;
            if (line.StartsWith('*'))
            {
                table = line[1..];
            }

            if (number == failed)
            {
                return table is null ? null : committed;
            }

            if (line == "COMMIT" && table is not null)
            {
                _ = committed.Add(table);
                table = null;
            }
        }

        return null;
    }
}

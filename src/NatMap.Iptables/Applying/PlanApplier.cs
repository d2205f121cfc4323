namespace NatMap.Iptables.Internal;

/// <summary>
/// Applies a plan in order, as part of an operation: consecutive rule changes form a segment, handed to the
/// <see cref="IRuleApplier"/> family by family and, within a family, table by table; host changes (sysctl writes) run
/// between segments. Then resets the conntrack entries of the flows whose translation changed.
/// </summary>
internal sealed class PlanApplier(IRuleApplier rules, HostCommands commands, ConntrackReset conntrackReset)
{
    /// <summary>Applies <paramref name="plan"/>; every applied step leaves its undo in <paramref name="operation"/>.</summary>
    public async Task ApplyAsync(Operation operation, IReadOnlyList<Change> plan, CancellationToken cancellationToken)
    {
        var segment = new List<RuleChange>();
        foreach (var change in plan)
        {
            if (change is RuleChange rule)
            {
                segment.Add(rule);
                continue;
            }

            await ApplySegmentAsync(operation, segment, cancellationToken).ConfigureAwait(false);
            segment.Clear();
            var host = (HostChange)change;
            _ = await operation.ApplyAsync(host.Command, host.Undo, cancellationToken, unknown: UnknownOutcome.Undo).ConfigureAwait(false);
        }

        await ApplySegmentAsync(operation, segment, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Deletes the conntrack entries of the flows whose translation <paramref name="applied"/> added or removed, so
    /// they follow the new rules at once (<see cref="NatMapOptions.ConntrackReset"/>). "0 flow entries" is no error;
    /// without the program a warning is logged and the operation stands; any other failure fails the operation, which
    /// then undoes its rule changes.
    /// </summary>
    public Task ResetFlowsAsync(Operation operation, IEnumerable<RuleChange> applied, CancellationToken cancellationToken) =>
        ResetFlowsAsync(operation, FlowReset.For(applied, conntrackReset), cancellationToken);

    /// <summary>Deletes the conntrack entries of <paramref name="resets"/>, as <see cref="ResetFlowsAsync(Operation, IEnumerable{RuleChange}, CancellationToken)"/> does.</summary>
    public async Task ResetFlowsAsync(Operation operation, IEnumerable<FlowReset> resets, CancellationToken cancellationToken)
    {
        foreach (var reset in resets.Distinct())
        {
            var command = commands.DeleteFlows(reset);
            CommandResult result;
            try
            {
                result = await operation.RunAsync(command, cancellationToken).ConfigureAwait(false);
            }
            catch (System.ComponentModel.Win32Exception exception)
            {
                Log.ConntrackUnavailable(operation.Executor.Logger, command, exception.Message);
                return;
            }

            if (result.IsSuccess || (result.ExitCode == 1 && result.StandardError.Contains("flow entries have been deleted", StringComparison.Ordinal)))
            {
                continue;
            }

            // ip netns exec reports a program it cannot start with exit code 1 and "exec of "conntrack" failed", a shell with 127.
            if (result.ExitCode == 127
                || (result.StandardError.Contains("exec of", StringComparison.Ordinal) && result.StandardError.Contains("failed", StringComparison.Ordinal)))
            {
                Log.ConntrackUnavailable(operation.Executor.Logger, command, result.StandardError.Trim());
                return;
            }

            throw new IptablesCommandException(command, result);
        }
    }

    private async Task ApplySegmentAsync(Operation operation, List<RuleChange> segment, CancellationToken cancellationToken)
    {
        foreach (var family in segment.GroupBy(static c => c.Family))
        {
            var changes = RestoreScript.GroupByTable(family).SelectMany(static t => t).ToList();
            await rules.ApplyAsync(operation, family.Key, changes, cancellationToken).ConfigureAwait(false);
        }
    }
}

using NatMap.Iptables.Testing;
using NatMap.Iptables.Tests.Reliability;

namespace NatMap.Iptables.Tests.Applying;

/// <summary>
/// Faults that strike after part of a process took effect (<see cref="CommandFault"/>): every operation, in both
/// transports, with each process in turn committing its first k tables and then failing (as iptables fails when it
/// cannot commit the next table), timing out, or being cancelled by the caller, for every k. A second pass then also
/// faults each process of the recovery (the re-read, the fallback read, every undo) of such a run.
/// </summary>
/// <remarks>
/// The host holds foreign rules in raw, nat and filter of both families; they must survive every case. After each case
/// the loopback guard invariant (route_localnet=1 only while a guard stands) must hold.
/// </remarks>
public sealed class PartialCommitFaultTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string, RuleApplyMode> Operations() => FaultScenarios.Operations();

    /// <summary>One fault to inject: how the process ends and how many of its tables commit first.</summary>
    private sealed record Fault(CommandFaultKind Kind, int Tables)
    {
        public CommandFault Make(CancellationTokenSource caller) => Kind switch
        {
            CommandFaultKind.Fail => CommandFault.FailAfterTables(Tables),
            CommandFaultKind.TimeOut => CommandFault.TimeOutAfterTables(Tables),
            CommandFaultKind.Hang => CommandFault.HangAfterTables(Tables),
            _ => CommandFault.CancelAfterTables(Tables, caller),
        };

        public override string ToString() => $"{Kind} after {Tables} table(s)";
    }

    /// <summary>
    /// The faults of the first pass for one process: a restore of T tables fails after each k in 1..T-1 (k = 0 is the
    /// whole-process failure of <see cref="FaultInjectionTests"/>), and times out or is cancelled after each k in 0..T;
    /// any other process times out or is cancelled before and after it took effect.
    /// </summary>
    private static IEnumerable<Fault> PartialFaults(CommandSpec process)
    {
        var tables = FaultScenarios.Steps(process);
        if (process.StandardInput is not null)
        {
            for (var k = 1; k < tables; k++)
            {
                yield return new Fault(CommandFaultKind.Fail, k);
            }
        }

        for (var k = 0; k <= tables; k++)
        {
            yield return new Fault(CommandFaultKind.TimeOut, k);
            yield return new Fault(CommandFaultKind.Cancel, k);
        }
    }

    /// <summary>
    /// The faults of the second pass for one recovery process: it fails after each k in 0..T-1, times out before it
    /// did anything, and times out after it did everything (so its result is lost).
    /// </summary>
    private static IEnumerable<Fault> RecoveryFaults(CommandSpec process)
    {
        var tables = FaultScenarios.Steps(process);
        for (var k = 0; k < tables; k++)
        {
            yield return new Fault(CommandFaultKind.Fail, k);
        }

        yield return new Fault(CommandFaultKind.TimeOut, 0);
        yield return new Fault(CommandFaultKind.TimeOut, tables);
    }

    private static async Task<string[]> AddForeignRulesAsync(FakeIptables fake)
    {
        foreach (var (program, table, rule) in new[]
        {
            ("iptables", "raw", "PREROUTING -i eth9 -p udp -j DROP"),
            ("iptables", "nat", "POSTROUTING -o eth9 -j MASQUERADE"),
            ("iptables", "filter", "FORWARD -i eth9 -j ACCEPT"),
            ("ip6tables", "nat", "POSTROUTING -o eth9 -j MASQUERADE"),
            ("ip6tables", "filter", "FORWARD -i eth9 -j ACCEPT"),
        })
        {
            var result = await fake.RunAsync(new CommandSpec(program, ["-t", table, "-A", .. rule.Split(' ')]), Ct);
            result.ExitCode.Should().Be(0, result.StandardError);
        }

        return [.. FaultScenarios.State(fake).Split('\n').Where(static l => l.Contains("eth9", StringComparison.Ordinal))];
    }

    /// <summary>A fresh host with the foreign rules and what the operation needs before it, counting processes from 1.</summary>
    private static async Task<(FakeIptables Fake, IptablesManager Manager, string[] Foreign)> ReadyAsync(string operation, RuleApplyMode transport)
    {
        var (fake, manager) = FaultScenarios.Host(transport);
        var foreign = await AddForeignRulesAsync(fake);
        await FaultScenarios.Before(operation, manager);
        fake.Clear();
        return (fake, manager, foreign);
    }

    private static void ForeignRulesIntact(FakeIptables fake, string[] foreign, string because)
    {
        var state = FaultScenarios.State(fake);
        foreach (var line in foreign)
        {
            state.Should().Contain(line, because);
        }
    }

    /// <summary>Whether a fault at this process is absorbed by design, leaving the operation's full result.</summary>
    private static bool Absorbed(string operation, RuleApplyMode transport, CommandSpec process, Fault fault) =>
        (process.Arguments.Contains("route") && fault.Kind is CommandFaultKind.Fail or CommandFaultKind.TimeOut)
        || (operation.StartsWith("Remove", StringComparison.Ordinal) && transport == RuleApplyMode.Batch
            && process.StandardInput is not null && fault.Kind == CommandFaultKind.Fail);

    private static Type ExceptionOf(CommandFaultKind kind) => kind switch
    {
        CommandFaultKind.Fail => typeof(IptablesCommandException),
        CommandFaultKind.TimeOut => typeof(TimeoutException),
        _ => typeof(OperationCanceledException),
    };

    /// <summary>
    /// Whether the fault stops a batch removal's speculative delete after some of its tables committed. The removal
    /// does not read the tables first, so its rollback appends the deleted rules back at the end of their chains: the
    /// documented recovery is the same rules, perhaps in another order within their chains.
    /// </summary>
    private static bool StopsSpeculativeDeleteAfterCommit(string operation, RuleApplyMode transport, CommandSpec process, Fault fault) =>
        operation.StartsWith("Remove", StringComparison.Ordinal) && transport == RuleApplyMode.Batch
        && process.StandardInput is not null && fault.Kind != CommandFaultKind.Fail && fault.Tables > 0;

    private static async Task<(IReadOnlyList<CommandSpec> Processes, string Done, NatMapState Listed)> ProbeAsync(string operation, RuleApplyMode transport)
    {
        var (probe, manager, _) = await ReadyAsync(operation, transport);
        await FaultScenarios.Run(operation, manager, Ct);
        return (probe.Processes, FaultScenarios.State(probe), await manager.ListAsync(Ct));
    }

    [Theory]
    [MemberData(nameof(Operations))]
    public async Task Operation_PartialCommitOrTimeoutOrCancelAfterCommit_LeavesTheHostAsBefore(string operation, RuleApplyMode transport)
    {
        var (processes, done, listed) = await ProbeAsync(operation, transport);
        var (cases, reordered) = (0, 0);
        for (var position = 1; position <= processes.Count; position++)
        {
            var process = processes[position - 1];
            foreach (var fault in PartialFaults(process))
            {
                cases++;
                var (fake, manager, foreign) = await ReadyAsync(operation, transport);
                var initial = FaultScenarios.State(fake);
                using var caller = CancellationTokenSource.CreateLinkedTokenSource(Ct);
                fake.Script.FaultAt(position, fault.Make(caller));
                var because = $"{operation} ({transport}): {fault} at process {position} of {processes.Count}: {process}";

                var exception = await Record.ExceptionAsync(() => FaultScenarios.Run(operation, manager, caller.Token));

                FaultScenarios.GuardInvariantHolds(fake, because);
                ForeignRulesIntact(fake, foreign, because);
                if (exception is null)
                {
                    Absorbed(operation, transport, process, fault).Should().BeTrue($"only an absorbed fault may pass: {because}");
                    if (process.Arguments.Contains("route"))
                    {
                        // Without the route the hairpin rule covers the container only: the same objects, another rule.
                        (await manager.ListAsync(Ct)).Should().BeEquivalentTo(listed, because);
                    }
                    else
                    {
                        FaultScenarios.State(fake).Should().Be(done, because);
                    }

                    continue;
                }

                exception.Should().BeAssignableTo(ExceptionOf(fault.Kind), because);
                if (StopsSpeculativeDeleteAfterCommit(operation, transport, process, fault))
                {
                    reordered++;
                    FaultScenarios.Unordered(FaultScenarios.State(fake)).Should().Equal(FaultScenarios.Unordered(initial), because);
                }
                else
                {
                    FaultScenarios.State(fake).Should().Be(initial, because);
                }
            }
        }

        cases.Should().BeGreaterThan(processes.Count);
        Console.WriteLine($"partial commits: {operation} ({transport}): {cases} cases over {processes.Count} processes, {reordered} with the removed rules put back at the end of their chains");
    }

    [Theory]
    [MemberData(nameof(Operations))]
    public async Task Operation_RecoveryProcessFaultedToo_KeepsTheGuardAndTheForeignRules_AndTheNextRunConverges(string operation, RuleApplyMode transport)
    {
        var (processes, done, _) = await ProbeAsync(operation, transport);
        var (cases, asBefore) = (0, 0);
        for (var position = 1; position <= processes.Count; position++)
        {
            var process = processes[position - 1];
            var tables = FaultScenarios.Steps(process);

            // The primary faults whose recovery does the most: after everything committed, and after a partial commit.
            Fault[] primaries = tables > 1
                ? [new Fault(CommandFaultKind.TimeOut, tables), new Fault(CommandFaultKind.Fail, 1)]
                : [new Fault(CommandFaultKind.TimeOut, tables)];
            foreach (var primary in primaries.Where(f => !Absorbed(operation, transport, process, f) || f.Kind == CommandFaultKind.Fail))
            {
                // The recovery of this fault: every process after it.
                var (recorder, recorderManager, _) = await ReadyAsync(operation, transport);
                recorder.Script.FaultAt(position, primary.Make(new CancellationTokenSource()));
                _ = await Record.ExceptionAsync(() => FaultScenarios.Run(operation, recorderManager, Ct));
                var recovery = recorder.Processes;

                for (var second = position + 1; second <= recovery.Count; second++)
                {
                    foreach (var fault in RecoveryFaults(recovery[second - 1]))
                    {
                        cases++;
                        var (fake, manager, foreign) = await ReadyAsync(operation, transport);
                        var initial = FaultScenarios.State(fake);
                        fake.Script.FaultAt(position, primary.Make(new CancellationTokenSource()));
                        fake.Script.FaultAt(second, fault.Make(new CancellationTokenSource()));
                        var because = $"{operation} ({transport}): {primary} at process {position} ({process}), then {fault} at recovery process {second} ({recovery[second - 1]})";

                        _ = await Record.ExceptionAsync(() => FaultScenarios.Run(operation, manager, Ct));

                        FaultScenarios.GuardInvariantHolds(fake, because);
                        ForeignRulesIntact(fake, foreign, because);
                        asBefore += FaultScenarios.State(fake) == initial ? 1 : 0;

                        // Whatever state the failed recovery left, running the operation again reaches its result.
                        fake.Script.Clear();
                        await FaultScenarios.Run(operation, manager, Ct);
                        FaultScenarios.State(fake).Should().Be(done, $"the rerun converges after {because}");
                    }
                }
            }
        }

        Console.WriteLine($"recovery faults: {operation} ({transport}): {cases} cases, {asBefore} left the host as before, {cases - asBefore} in a recovery state");
    }
}

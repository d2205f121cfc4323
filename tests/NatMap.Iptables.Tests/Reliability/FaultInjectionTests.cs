using System.Net;
using NatMap.Iptables.Testing;

namespace NatMap.Iptables.Tests.Reliability;

/// <summary>
/// Every multi-command operation, in both transports, failed at every process position in turn (FakeIptables.FailAt):
/// afterwards the emulated tables (both families) and route_localnet are exactly as before the operation, and the
/// exception names the process that failed. The one failure an operation is built to tolerate, a Docker mapping's
/// route lookup, must instead leave the operation's full result.
/// </summary>
public sealed class FaultInjectionTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string, RuleApplyMode> Operations() => FaultScenarios.Operations();

    private static (Func<IptablesManager, Task> Before, Func<IptablesManager, Task> Operation) Case(string operation) =>
        (m => FaultScenarios.Before(operation, m), m => FaultScenarios.Run(operation, m, Ct));

    private static (FakeIptables Fake, IptablesManager Manager) Host(RuleApplyMode transport) => FaultScenarios.Host(transport);

    private static string State(FakeIptables fake) => FaultScenarios.State(fake);

    private static List<string> Lines(string state) => [.. state.Split('\n').Order(StringComparer.Ordinal)];

    /// <summary>
    /// The no-route result with each Docker mapping's hairpin MASQUERADE put back as it was installed, when the working
    /// operation (<paramref name="done"/>) keeps that installed rule.
    /// </summary>
    private static List<string> KeepInstalledHairpins(string noRoute, string initial, string done)
    {
        static string? HairpinComment(string line) =>
            line.StartsWith("-A ", StringComparison.Ordinal) && line.EndsWith("-j MASQUERADE", StringComparison.Ordinal)
            && line.IndexOf("--comment \"", StringComparison.Ordinal) is var at and >= 0 && line[(at + 11)..].StartsWith("natmap:docker:", StringComparison.Ordinal)
                ? line[(at + 11)..line.IndexOf('"', at + 11)]
                : null;
        var kept = initial.Split('\n').Intersect(done.Split('\n'))
            .Where(l => HairpinComment(l) is not null)
            .ToDictionary(l => HairpinComment(l)!, StringComparer.Ordinal);
        return Lines(string.Join('\n', noRoute.Split('\n').Select(l => HairpinComment(l) is { } c && kept.TryGetValue(c, out var installed) ? installed : l)));
    }

    [Theory]
    [MemberData(nameof(Operations))]
    public async Task Operation_FailedAtEveryProcess_LeavesTheHostAsBefore(string operation, RuleApplyMode transport)
    {
        var (before, act) = Case(operation);
        var (probe, probeManager) = Host(transport);
        await before(probeManager);
        probe.Clear();
        await act(probeManager);
        var processes = probe.Processes;
        var done = State(probe);
        processes.Should().NotBeEmpty();
        Console.WriteLine($"faults: {operation} ({transport}): failed at each of {processes.Count} processes");

        for (var position = 1; position <= processes.Count; position++)
        {
            var (fake, manager) = Host(transport);
            await before(manager);
            var initial = State(fake);
            fake.Clear();
            fake.Script.FailAt(position, 4, "Another app is currently holding the xtables lock. Stopped waiting after 10s.");
            var failed = processes[position - 1];
            var because = $"{operation} ({transport}) failed at process {position} of {processes.Count}: {failed}";

            var exception = await Record.ExceptionAsync(() => act(manager));

            if (exception is null)
            {
                // Two failures are absorbed by design: a Docker mapping's route lookup (its hairpin rule then covers
                // the container only, or keeps the network it was installed with), and a batch removal's speculative
                // delete (no longer made: a removal reads first and deletes by comment).
                var routeLookup = failed.Arguments.Contains("route");
                var speculativeRemoval = operation.StartsWith("Remove", StringComparison.Ordinal) && failed.StandardInput is not null;
                (routeLookup || speculativeRemoval).Should().BeTrue($"only an absorbed failure may pass: {because}");
                (await manager.ListAsync(Ct)).Should().BeEquivalentTo(await probeManager.ListAsync(Ct), because);

                // The whole tables and host settings, not only what ListAsync reads back. A failed route lookup must
                // leave what a lookup that finds no route leaves (the hairpin rule covers the container itself: the
                // same operation on a host where that one lookup answers with nothing), except that a hairpin rule
                // already installed for the container's network, and kept by the operation, stays as it is (review
                // item 7: a failed lookup is not "no routes"). A kept rule stays where it was, so lines are compared
                // as sets of lines.
                if (routeLookup)
                {
                    var (noRoute, noRouteManager) = Host(transport);
                    await before(noRouteManager);
                    noRoute.Script.RespondUsing(c => c.Equals(failed), _ => new CommandResult(0, string.Empty, string.Empty), times: 1);
                    await act(noRouteManager);
                    Lines(State(fake)).Should().Equal(KeepInstalledHairpins(State(noRoute), initial, done), because);
                }
                else
                {
                    State(fake).Should().Be(done, because);
                }

                continue;
            }

            var error = exception.Should().BeOfType<IptablesCommandException>(because).Subject;
            error.ExitCode.Should().Be(4, because);
            error.Command.Should().Be(failed, because);
            error.Message.Should().Contain(failed.FileName, because);
            State(fake).Should().Be(initial, because);
        }
    }

    [Theory]
    [MemberData(nameof(Operations))]
    public async Task Operation_CancelledDuringEveryProcess_LeavesTheHostAsBefore(string operation, RuleApplyMode transport)
    {
        var (before, act) = Case(operation);
        var (probe, probeManager) = Host(transport);
        await before(probeManager);
        probe.Clear();
        await act(probeManager);
        var processes = probe.Processes.Count;
        Console.WriteLine($"cancellations: {operation} ({transport}): cancelled during each of {processes} processes");

        for (var position = 1; position <= processes; position++)
        {
            var fake = new FakeIptables().AddAddress("docker0", IPAddress.Parse("172.17.0.1"), 16).AddAddress("docker0", IPAddress.Parse("fd00::1"), 64);
            using var cancellation = new CancellationTokenSource();
            var runner = new CancelAt(fake, position, cancellation);
            var manager = new IptablesManager(runner, new NatMapOptions { ApplyMode = transport });
            await before(manager);
            var initial = State(fake);
            runner.Arm();
            var because = $"{operation} ({transport}) cancelled during process {position} of {processes}";

            var cancelled = () => FaultScenarios.Run(operation, manager, cancellation.Token);

            await cancelled.Should().ThrowAsync<OperationCanceledException>(because);
            State(fake).Should().Be(initial, because);
        }
    }

    /// <summary>
    /// Cancels the operation's token while its n-th process (counted once armed) is running: that process is
    /// cancelled too and takes no effect, as a killed iptables would not commit.
    /// </summary>
    private sealed class CancelAt(FakeIptables inner, int position, CancellationTokenSource cancellation) : ICommandRunner
    {
        private int _seen = int.MinValue;

        public void Arm() => _seen = 0;

        public Task<CommandResult> RunAsync(CommandSpec command, CancellationToken cancellationToken = default)
        {
            if (++_seen == position)
            {
                cancellation.Cancel();
            }

            return inner.RunAsync(command, cancellationToken);
        }
    }
}

using NatMap.Iptables.Testing;
using NatMap.Iptables.Tests.Reliability;

namespace NatMap.Iptables.Tests.Host;

/// <summary>
/// The host invariant: the library never leaves net.ipv4.conf.all.route_localnet=1 without a loopback guard in raw
/// PREROUTING, under a failing rollback, a timeout at any process, a foreign <c>iptables -t raw -F</c> followed by a
/// new manager, and two managers with different comment prefixes in any order. Ownership of the setting is read from
/// the guard's comment in the kernel, so a manager that did not turn it on behaves the same as one that did.
/// </summary>
public sealed class RouteLocalnetGuardTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string RouteLocalnet(FakeIptables fake) => fake.GetSysctl(FaultScenarios.RouteLocalnet)!;

    private static async Task RawFlushAsync(FakeIptables fake) =>
        (await fake.RunAsync(new CommandSpec("iptables", ["-t", "raw", "-F"]), Ct)).ExitCode.Should().Be(0);

    [Fact]
    public async Task FlushAll_Ipv6RestoreFailsAndTheIpv4UndoFailsToo_LeavesRouteLocalnetOff()
    {
        // The review's case: FlushAll turned the setting off first, the IPv6 restore failed on the lock, and putting
        // the IPv4 rules (the guard among them) back failed as well. The setting must not come back without the guard.
        var (fake, manager) = FaultScenarios.Host(RuleApplyMode.Batch);
        await manager.SetupAsync(Ct);
        await manager.SyncAsync(FaultScenarios.Everything, Ct);
        RouteLocalnet(fake).Should().Be("1");
        fake.Script.FailWhen(CommandMatch.Program("ip6tables-restore"), 4, "Another app is currently holding the xtables lock. Stopped waiting after 10s.", times: 1);
        fake.Script.FailWhen(c => c.FileName == "iptables-restore" && c.StandardInput?.Contains("-I PREROUTING", StringComparison.Ordinal) == true, 4, "Another app is currently holding the xtables lock. Stopped waiting after 10s.", times: 1);

        var flush = () => manager.FlushAllAsync(Ct);

        (await flush.Should().ThrowAsync<IptablesCommandException>()).Which.Command.FileName.Should().Be("ip6tables-restore");
        FaultScenarios.HasLoopbackGuard(fake).Should().BeFalse("the undo that would have put it back failed");
        RouteLocalnet(fake).Should().Be("0", "rollback stops at the failed undo, before the setting goes back to 1");
    }

    [Fact]
    public async Task ForeignRawFlush_ThenANewManagersSetupAndFlushAll_LeavesRouteLocalnetOff()
    {
        var fake = new FakeIptables();
        await new IptablesManager(fake).SetupAsync(Ct);
        await RawFlushAsync(fake);
        FaultScenarios.HasLoopbackGuard(fake).Should().BeFalse();
        var second = new IptablesManager(fake);

        await second.SetupAsync(Ct);
        FaultScenarios.HasLoopbackGuard(fake).Should().BeTrue("Setup puts the guard back");
        await second.FlushAllAsync(Ct);

        RouteLocalnet(fake).Should().Be("0");
        FaultScenarios.State(fake).Should().Be("route_localnet=0", "FlushAll leaves nothing of the library's");
    }

    [Theory]
    [InlineData(RuleApplyMode.Batch)]
    [InlineData(RuleApplyMode.PerRule)]
    public async Task ForeignRawFlush_NewManagersFlushAllTimesOutAtEveryProcess_NeverLeavesRouteLocalnetOnWithoutAGuard(RuleApplyMode transport)
    {
        async Task<(FakeIptables, IptablesManager)> ReadyAsync()
        {
            var (fake, first) = FaultScenarios.Host(transport);
            await first.SetupAsync(Ct);
            await first.SyncAsync(FaultScenarios.Everything, Ct);
            await RawFlushAsync(fake);
            var second = new IptablesManager(fake, new NatMapOptions { ApplyMode = transport });
            await second.SetupAsync(Ct);
            fake.Clear();
            return (fake, second);
        }

        var (probe, probeManager) = await ReadyAsync();
        await probeManager.FlushAllAsync(Ct);
        var processes = probe.Processes;
        var cases = 0;
        for (var position = 1; position <= processes.Count; position++)
        {
            foreach (var tables in new[] { 0, FaultScenarios.Steps(processes[position - 1]) })
            {
                cases++;
                var (fake, manager) = await ReadyAsync();
                var initial = FaultScenarios.State(fake);
                fake.Script.FaultAt(position, CommandFault.TimeOutAfterTables(tables));
                var because = $"FlushAll ({transport}) timed out after {tables} table(s) of process {position}: {processes[position - 1]}";

                await FluentActions.Awaiting(() => manager.FlushAllAsync(Ct)).Should().ThrowAsync<TimeoutException>(because);

                FaultScenarios.GuardInvariantHolds(fake, because);
                FaultScenarios.State(fake).Should().Be(initial, because);
            }
        }

        Console.WriteLine($"route_localnet: FlushAll after a foreign raw flush ({transport}) timed out in {cases} ways");
    }

    [Fact]
    public async Task TwoManagersWithOtherPrefixes_AndForeignRawFlushes_InAnyOrder_NeverBreakTheGuard()
    {
        // Every sequence of four steps. A library step may not turn a guarded host into an unguarded one, and Setup or
        // Sync always leaves it guarded (only the foreign flush breaks the invariant, and the next Setup mends it).
        var steps = new (string Name, Func<FakeIptables, IptablesManager, IptablesManager, Task> Run)[]
        {
            ("A.Setup", (_, a, _) => a.SetupAsync(Ct)),
            ("B.Setup", (_, _, b) => b.SetupAsync(Ct)),
            ("A.FlushAll", (_, a, _) => a.FlushAllAsync(Ct)),
            ("B.FlushAll", (_, _, b) => b.FlushAllAsync(Ct)),
            ("B.Sync", (_, _, b) => b.SyncAsync(new NatMapState { DockerMaps = [FaultScenarios.Db] }, Ct)),
            ("raw -F", (fake, _, _) => RawFlushAsync(fake)),
        };
        var sequences = 0;
        foreach (var sequence in Sequences(steps.Length, 4))
        {
            sequences++;
            var fake = new FakeIptables();
            var a = new IptablesManager(fake, new NatMapOptions { CommentPrefix = "alpha", ChainName = "ALPHA", EnableIpv6 = false });
            var b = new IptablesManager(fake, new NatMapOptions { CommentPrefix = "beta", ChainName = "BETA", EnableIpv6 = false });
            var done = new List<string>();
            foreach (var index in sequence)
            {
                var (name, run) = steps[index];
                var guardedBefore = Guarded(fake);
                await run(fake, a, b);
                done.Add(name);
                var because = string.Join(", ", done);
                if (name.EndsWith("Setup", StringComparison.Ordinal) || name.EndsWith("Sync", StringComparison.Ordinal))
                {
                    Guarded(fake).Should().BeTrue($"Setup leaves the host guarded: {because}");
                }
                else if (name != "raw -F" && guardedBefore)
                {
                    Guarded(fake).Should().BeTrue($"a guarded host stays guarded: {because}");
                }
            }
        }

        sequences.Should().Be(1296);
    }

    private static bool Guarded(FakeIptables fake) => RouteLocalnet(fake) != "1" || FaultScenarios.HasLoopbackGuard(fake);

    private static IEnumerable<int[]> Sequences(int choices, int length)
    {
        if (length == 0)
        {
            yield return [];
            yield break;
        }

        foreach (var rest in Sequences(choices, length - 1))
        {
            for (var i = 0; i < choices; i++)
            {
                yield return [i, .. rest];
            }
        }
    }
}

using System.Net;
using System.Net.Sockets;
using NatMap.Iptables.Testing;

namespace NatMap.Iptables.Tests.Monitoring;

public sealed class NatMapMonitorTests
{
    private static readonly DockerPortMap Web = new("web", IPEndPoint.Parse("0.0.0.0:8080"), IPEndPoint.Parse("172.17.0.2:80"));
    private static readonly NatMapState Desired = new() { DockerMaps = [Web], Dnats = [new DnatConfig(IPAddress.Parse("2001:db8::5"), IPAddress.Parse("fd00::2"), 443)] };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<(FakeIptables Fake, IptablesManager Manager)> InstalledAsync()
    {
        var fake = new FakeIptables();
        var manager = new IptablesManager(fake);
        await manager.SetupAsync(Ct);
        await manager.SyncAsync(Desired, Ct);
        return (fake, manager);
    }

    private static async Task RunAsync(FakeIptables fake, string program, params string[] arguments) =>
        (await fake.RunAsync(new CommandSpec(program, arguments), Ct)).ExitCode.Should().Be(0, string.Join(' ', arguments));

    [Fact]
    public async Task Check_NothingTouched_ReadsOnly()
    {
        var (fake, manager) = await InstalledAsync();
        var monitor = new NatMapMonitor(manager, () => Desired);
        fake.Clear();

        (await monitor.CheckAsync(Ct)).Should().BeFalse();

        monitor.Repairs.Should().Be(0);
        fake.Processes.Should().OnlyContain(p => p.StandardInput == null && p.FileName.EndsWith("-save", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Check_AfterAnotherToolFlushedEverything_PutsTheSameTablesBack()
    {
        var (fake, manager) = await InstalledAsync();
        var (v4, v6) = (fake.Save(), fake.Save(AddressFamily.InterNetworkV6));
        foreach (var (program, tables) in new[] { ("iptables", new[] { "raw", "nat", "filter" }), ("ip6tables", ["nat", "filter"]) })
        {
            foreach (var table in tables)
            {
                await RunAsync(fake, program, "-t", table, "-F");
                await RunAsync(fake, program, "-t", table, "-X");
            }
        }

        var monitor = new NatMapMonitor(manager, () => Desired);

        (await monitor.CheckAsync(Ct)).Should().BeTrue();

        monitor.Repairs.Should().Be(1);
        fake.Save().Should().Be(v4);
        fake.Save(AddressFamily.InterNetworkV6).Should().Be(v6);
        (await monitor.CheckAsync(Ct)).Should().BeFalse("the next check finds everything in place");
    }

    [Fact]
    public async Task Check_ASingleRuleDeleted_TheFullSyncPutsItBack()
    {
        var (fake, manager) = await InstalledAsync();
        var before = fake.Save();
        var dnat = before.Split('\n').Single(l => l.Contains("-j DNAT", StringComparison.Ordinal));
        await RunAsync(fake, "iptables", ["-t", "nat", "-D", .. dnat.Split(' ')[1..].Select(t => t.Trim('"'))]);
        var monitor = new NatMapMonitor(manager, () => Desired, new NatMapMonitorOptions { FullSyncEvery = 2 });

        (await monitor.CheckAsync(Ct)).Should().BeFalse("Setup's chains and jumps are all there");
        fake.Save().Should().NotBe(before);
        _ = await monitor.CheckAsync(Ct);

        fake.Save().Should().Be(before, "the second check is a full sync");
    }

    [Fact]
    public async Task Run_RepairsWithinAnInterval_AndStopsWhenCancelled()
    {
        var (fake, manager) = await InstalledAsync();
        var before = fake.Save();
        var monitor = new NatMapMonitor(manager, () => Desired, new NatMapMonitorOptions { Interval = TimeSpan.FromMilliseconds(50) });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var running = monitor.RunAsync(stop.Token);
        await RunAsync(fake, "iptables", "-t", "nat", "-F");

        // Bounded: one 50 ms interval plus one sync on the emulator, with room for a loaded machine.
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (monitor.Repairs == 0)
        {
            waited.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(5), "the monitor repairs on its next check");
            await Task.Delay(10, Ct);
        }

        await stop.CancelAsync();
        await running;
        fake.Save().Should().Be(before);
    }

    [Fact]
    public void Options_OutOfRange_Refused()
    {
        var manager = new IptablesManager(new FakeIptables());
        FluentActions.Invoking(() => new NatMapMonitor(manager, () => Desired, new NatMapMonitorOptions { Interval = TimeSpan.Zero }))
            .Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("options.Interval");
        FluentActions.Invoking(() => new NatMapMonitor(manager, () => Desired, new NatMapMonitorOptions { FullSyncEvery = 0 }))
            .Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("options.FullSyncEvery");
    }
}

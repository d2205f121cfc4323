using System.Net;
using NatMap.Iptables.IntegrationTests.Infrastructure;

namespace NatMap.Iptables.IntegrationTests.Nftables;

/// <summary>
/// No operation of the nftables backend leaves part of its change behind, on the real kernel: every process of every
/// operation is made to fail in turn, either before it runs (its program reports an error) or after it ran (its result
/// is lost, as when it times out). A failure must leave the host exactly as before (nft ruleset, iptables rules,
/// <c>route_localnet</c>); a lost result may leave it as before or as the whole operation leaves it, nothing between.
/// The host is one whose iptables FORWARD policy is DROP, so the operations also write their iptables rule.
/// </summary>
public sealed class NftFaultKernelTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly DockerPortMap Udp4 = new("dns", IPEndPoint.Parse("0.0.0.0:5353"), IPEndPoint.Parse("172.30.0.2:53"), TransportProtocol.Udp);
    private static readonly DockerPortMap Tcp6 = new("web", IPEndPoint.Parse("[::]:8080"), IPEndPoint.Parse("[fd30::2]:80"));
    private static readonly DnatConfig Dnat = new(IPAddress.Parse("10.99.0.1"), IPAddress.Parse("172.30.0.3"), PortSet.Parse("9000,9100-9101"), TransportProtocol.Udp);

    /// <summary>Each operation: what state it starts from (run with the real runner) and the operation itself.</summary>
    public static TheoryData<string> Operations => new() { "Setup", "Sync", "InstallDockerMap", "RemoveDockerMap", "InstallDnat", "RemoveDnat", "FlushAll" };

    private static async Task PrepareAsync(string operation, IptablesManager manager)
    {
        if (operation == "Setup")
        {
            return;
        }

        await manager.SetupAsync(Ct);
        if (operation is "RemoveDockerMap" or "FlushAll" or "Sync")
        {
            await manager.InstallDockerMapAsync(Udp4, Ct);
        }

        if (operation is "RemoveDnat" or "FlushAll")
        {
            await manager.InstallDnatAsync(Dnat, Ct);
        }
    }

    private static Task RunAsync(string operation, IptablesManager manager) => operation switch
    {
        "Setup" => manager.SetupAsync(Ct),
        "Sync" => manager.SyncAsync(new NatMapState { DockerMaps = [Tcp6], Dnats = [Dnat] }, Ct),
        "InstallDockerMap" => manager.InstallDockerMapAsync(Udp4, Ct),
        "RemoveDockerMap" => manager.RemoveDockerMapAsync(Udp4, Ct),
        "InstallDnat" => manager.InstallDnatAsync(Dnat, Ct),
        "RemoveDnat" => manager.RemoveDnatAsync(Dnat, Ct),
        "FlushAll" => manager.FlushAllAsync(Ct),
        _ => throw new ArgumentOutOfRangeException(nameof(operation)),
    };

    private static async Task<string> StateAsync(TestNamespace ns) =>
        $"{await ns.ExecAsync("nft", "list", "ruleset")}\n{await ns.SaveAsync()}\n{await ns.SaveAsync(ipv6: true)}\nroute_localnet={(await ns.ExecAsync("sysctl", "-n", NatMapDefaults.RouteLocalnetSetting)).Trim()}";

    [Theory]
    [MemberData(nameof(Operations))]
    public async Task EveryProcessFailing_OrLosingItsResult_LeavesTheHostAsBefore_OrAsTheWholeOperation(string operation)
    {
        // One clean run counts the processes and gives the state after the whole operation.
        int processes;
        string before, after;
        await using (var ns = await NewHostAsync())
        {
            await PrepareAsync(operation, ns.Manager(o => o.Backend = NatMapBackend.Nftables));
            before = await StateAsync(ns);
            var counter = new Faulting(null, afterRunning: false);
            await RunAsync(operation, ns.Manager(r => counter.Around(r), o => o.Backend = NatMapBackend.Nftables));
            processes = counter.Count;
            after = await StateAsync(ns);
        }

        after.Should().NotBe(before, $"{operation} changes the host");
        var cases = 0;
        foreach (var afterRunning in new[] { false, true })
        {
            for (var k = 1; k <= processes; k++)
            {
                await using var ns = await NewHostAsync();
                await PrepareAsync(operation, ns.Manager(o => o.Backend = NatMapBackend.Nftables));
                var faulting = new Faulting(k, afterRunning);
                var run = () => RunAsync(operation, ns.Manager(r => faulting.Around(r), o => o.Backend = NatMapBackend.Nftables));

                await run.Should().ThrowAsync<Exception>($"process {k} of {operation} fails");
                var state = await StateAsync(ns);
                var label = $"{operation}, process {k} of {processes} ({faulting.Failed}) {(afterRunning ? "ran and lost its result" : "failed before running")}";
                if (afterRunning)
                {
                    state.Should().BeOneOf([before, after], label);
                }
                else
                {
                    state.Should().Be(before, label);
                }

                cases++;
            }
        }

        Console.WriteLine($"nft faults: {operation}: {cases} cases over {processes} processes");
    }

    /// <summary>A fresh namespace whose iptables (nft) FORWARD policy is DROP in both families, as Docker leaves it.</summary>
    private static async Task<TestNamespace> NewHostAsync()
    {
        var ns = await TestNamespace.CreateAsync("nft");
        _ = await ns.ExecAsync(ns.Iptables, "-w", "-P", "FORWARD", "DROP");
        _ = await ns.ExecAsync(ns.Ip6tables, "-w", "-P", "FORWARD", "DROP");
        return ns;
    }

    /// <summary>Counts the processes; process <c>failAt</c> fails before it runs, or runs and then loses its result.</summary>
    private sealed class Faulting(int? failAt, bool afterRunning)
    {
        private int _count;

        private int? FailAt { get; } = failAt;

        private bool AfterRunning { get; } = afterRunning;

        public int Count => _count;

        public string? Failed { get; private set; }

        public ICommandRunner Around(ICommandRunner inner) => new Runner(this, inner);

        private sealed class Runner(Faulting owner, ICommandRunner inner) : ICommandRunner
        {
            public async Task<CommandResult> RunAsync(CommandSpec command, CancellationToken cancellationToken = default)
            {
                var n = Interlocked.Increment(ref owner._count);
                if (n != owner.FailAt)
                {
                    return await inner.RunAsync(command, cancellationToken);
                }

                owner.Failed = string.Join(' ', command.Arguments.Skip(3).Take(4));
                if (!owner.AfterRunning)
                {
                    return new CommandResult(1, string.Empty, "injected failure\n");
                }

                _ = await inner.RunAsync(command, cancellationToken);
                throw new TimeoutException($"injected: the result of '{command}' was lost");
            }
        }
    }
}

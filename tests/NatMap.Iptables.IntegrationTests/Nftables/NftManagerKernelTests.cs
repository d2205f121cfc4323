using System.Net;
using NatMap.Iptables.IntegrationTests.Infrastructure;
using static NatMap.Iptables.IntegrationTests.Infrastructure.Topology;

namespace NatMap.Iptables.IntegrationTests.Nftables;

/// <summary>
/// The nftables backend through the public manager on the real kernel: every object kind round-trips through
/// ListAsync, installs are idempotent, Sync converges, removals are exact, a key held by another target is refused and
/// left alone, nothing the library did not write is read as its own, and a host without iptables programs works.
/// </summary>
public sealed class NftManagerKernelTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static DockerPortMap Map(string id, string host, string container, TransportProtocol protocol = TransportProtocol.Tcp) =>
        new(id, IPEndPoint.Parse(host), IPEndPoint.Parse(container), protocol);

    private static readonly NatMapState First = new()
    {
        DockerMaps =
        [
            Map("web", "0.0.0.0:8080", $"{C1v4}:80"),
            Map("web", "0.0.0.0:8080", $"{C1v4}:80", TransportProtocol.Udp),
            Map("api", $"{HostB4}:8081", $"{C2v4}:80"),
            Map("web", "[::]:8080", $"[{C1v6}]:80"),
            Map("db", "127.0.0.1:5432", $"{C2v4}:80"),
        ],
        Dnats =
        [
            new DnatConfig(IPAddress.Parse(HostA4), IPAddress.Parse(C1v4), PortSet.Parse("9001,9002"), ExternalInterface: "eth0"),
            new DnatConfig(IPAddress.Parse(HostB4), IPAddress.Parse(C2v4), 2222) { InternalPort = 22 },
            new DnatConfig(IPAddress.Parse(HostA6), IPAddress.Parse(C1v6), PortSet.Parse("9100-9101"), TransportProtocol.Udp),
        ],
        Snats =
        [
            new SnatConfig(IPAddress.Parse(C1v4), IPAddress.Parse(HostB4), "eth0"),
            new SnatConfig(IPAddress.Parse(C1v6), IPAddress.Parse(HostB6), "eth+"),
        ],
        Hairpins = [new HairpinConfig(IPAddress.Parse(HostB4), IPAddress.Parse(C1v4), PortSet.Parse("80,443"), LanCidr: IPNetwork.Parse("172.30.0.0/24"))],
    };

    private static readonly NatMapState Second = new()
    {
        DockerMaps =
        [
            Map("web", "0.0.0.0:8080", $"{C2v4}:80"), // same key, another target: replaced
            Map("api", $"{HostB4}:8081", $"{C2v4}:80"), // kept
            Map("new", "[::]:8090", $"[{C2v6}]:80"), // added
        ],
        Dnats = [new DnatConfig(IPAddress.Parse(HostB4), IPAddress.Parse(C2v4), 2222) { InternalPort = 22 }],
        Snats = [new SnatConfig(IPAddress.Parse(C2v4), IPAddress.Parse(HostB4), "eth0")],
    };

    private static async Task InstallAsync(IptablesManager manager, NatMapState state)
    {
        foreach (var map in state.DockerMaps)
        {
            await manager.InstallDockerMapAsync(map, Ct);
        }

        foreach (var dnat in state.Dnats)
        {
            await manager.InstallDnatAsync(dnat, Ct);
        }

        foreach (var snat in state.Snats)
        {
            await manager.InstallSnatAsync(snat, Ct);
        }

        foreach (var hairpin in state.Hairpins)
        {
            await manager.InstallHairpinAsync(hairpin, Ct);
        }
    }

    private static Task<string> RulesetAsync(Topology net) => net.ExecAsync(net.Host, "nft", "list", "ruleset");

    [Fact]
    public async Task EveryObjectKind_RoundTrips_InstallsAreIdempotent_SyncConverges_RemovalsAreExact_FlushAllRestoresTheHost()
    {
        await using var net = await Topology.CreateAsync(Kernel.Nftables, 80);
        var before = (V4: await net.SaveAsync(false), V6: await net.SaveAsync(true));
        var manager = net.Manager();

        await manager.SetupAsync(Ct);
        var afterSetup = await RulesetAsync(net);
        await manager.SetupAsync(Ct);
        (await RulesetAsync(net)).Should().Be(afterSetup, "a second Setup changes nothing");
        (await manager.CountMissingSetupAsync(Ct)).Should().Be(0);

        await InstallAsync(manager, First);
        (await manager.ListAsync(Ct)).Should().Be(First);
        var installed = await RulesetAsync(net);
        await InstallAsync(manager, First);
        (await RulesetAsync(net)).Should().Be(installed, "installing the same objects again adds no copy");
        await manager.SyncAsync(First, Ct);
        var synced = await RulesetAsync(net);
        synced.Replace("natmap:state:", string.Empty, StringComparison.Ordinal).Should().NotBe(synced, "the first Sync records the digest of the maps");
        await manager.SyncAsync(First, Ct);
        (await RulesetAsync(net)).Should().Be(synced, "a no-op Sync writes nothing");

        // An install forgets the digest in its own transaction, so the next Sync reads the maps and removes the extra.
        var extra = Map("extra", "0.0.0.0:8099", $"{C2v4}:80");
        await manager.InstallDockerMapAsync(extra, Ct);
        (await RulesetAsync(net)).Should().NotContain("natmap:state:");
        await manager.SyncAsync(First, Ct);
        (await manager.ListAsync(Ct)).Should().Be(First);
        (await RulesetAsync(net)).Should().Contain("natmap:state:", "that Sync recorded the digest again");

        // Something the library did not write, in its own table: an element without a container id, a rule without a
        // kind comment. Neither is read as the library's.
        _ = await net.ExecAsync(net.Host, "nft", "add", "element", "inet", "natmap", "unbound4", $"{{ tcp . 9999 : {C2v4} . 80 }}");
        _ = await net.ExecAsync(net.Host, "nft", "add", "rule", "inet", "natmap-static", "prerouting", "tcp", "dport", "7777", "counter");
        (await manager.ListAsync(Ct)).Should().Be(First);

        await manager.SyncAsync(Second, Ct);
        (await manager.ListAsync(Ct)).Should().Be(Second);
        await Probe.ReachesAsync(net.Ext, TransportProtocol.Tcp, HostA4, 8080, "c2", "Sync moved the mapping to c2");
        await Probe.ReachesAsync(net.Ext, TransportProtocol.Tcp, HostA6, 8090, "c2", "Sync added the IPv6 mapping");
        await Probe.NoAnswerAsync(net.Ext, TransportProtocol.Tcp, HostA6, 8080, "Sync removed the IPv6 mapping of 8080");

        foreach (var map in Second.DockerMaps)
        {
            await manager.RemoveDockerMapAsync(map, Ct);
        }

        await manager.RemoveDnatAsync(Second.Dnats[0], Ct);
        await manager.RemoveSnatAsync(Second.Snats[0], Ct);
        (await manager.ListAsync(Ct)).Should().Be(new NatMapState());
        (await RulesetAsync(net)).Should().Contain("tcp . 9999 : 172.30.0.3 . 80", "a remove deletes only what it was asked to");

        await manager.FlushAllAsync(Ct);
        (await net.SaveAsync(false)).Should().Be(before.V4);
        (await net.SaveAsync(true)).Should().Be(before.V6, "FlushAll leaves nft list ruleset exactly as before Setup");
    }

    [Fact]
    public async Task InstallOverAKeyHeldByAnotherTarget_IsRefused_AndBothRemovesAreExact()
    {
        await using var net = await Topology.CreateAsync(Kernel.Nftables, 80);
        var manager = net.Manager();
        await manager.SetupAsync(Ct);
        var first = Map("one", "0.0.0.0:8080", $"{C1v4}:80");
        var second = Map("two", "0.0.0.0:8080", $"{C2v4}:80");
        await manager.InstallDockerMapAsync(first, Ct);

        var install = () => manager.InstallDockerMapAsync(second, Ct);

        (await install.Should().ThrowAsync<InvalidOperationException>()).WithMessage("*0.0.0.0:8080 is already published*");
        await Probe.ReachesAsync(net.Ext, TransportProtocol.Tcp, HostA4, 8080, "c1", "the first mapping stands");
        await manager.RemoveDockerMapAsync(second, Ct);
        await Probe.ReachesAsync(net.Ext, TransportProtocol.Tcp, HostA4, 8080, "c1", "removing the mapping that was never installed leaves the first");
        await manager.RemoveDockerMapAsync(first, Ct);
        await Probe.NoAnswerAsync(net.Ext, TransportProtocol.Tcp, HostA4, 8080, "the first mapping is removed");
        (await manager.ListAsync(Ct)).DockerMaps.Should().BeEmpty();
    }

    [Fact]
    public async Task HostWithoutIptablesPrograms_EveryOperationWorks_ThroughNftAlone()
    {
        await using var net = await Topology.CreateAsync(Kernel.Nftables, 80);
        var before = await RulesetAsync(net);
        var manager = net.Manager(o =>
        {
            o.IptablesPath = "/nonexistent/iptables";
            o.Ip6tablesPath = "/nonexistent/ip6tables";
        });

        await manager.SetupAsync(Ct);
        await manager.InstallDockerMapAsync(Map("web", "0.0.0.0:8080", $"{C1v4}:80"), Ct);
        await manager.InstallDockerMapAsync(Map("web", "[::]:8080", $"[{C1v6}]:80"), Ct);
        await Probe.ReachesAsync(net.Ext, TransportProtocol.Tcp, HostA4, 8080, "c1", "the mapping, with no iptables on the host");
        await Probe.ReachesAsync(net.Ext, TransportProtocol.Tcp, HostA6, 8080, "c1", "the IPv6 mapping, with no iptables on the host");
        (await manager.CountMissingSetupAsync(Ct)).Should().Be(0);

        await manager.FlushAllAsync(Ct);
        (await RulesetAsync(net)).Should().Be(before);
    }
}

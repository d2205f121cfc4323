using NatMap.Iptables.IntegrationTests.Infrastructure;
using static NatMap.Iptables.IntegrationTests.DockerCoexistenceTests;
using static NatMap.Iptables.IntegrationTests.Infrastructure.DockerEngine;

namespace NatMap.Iptables.IntegrationTests.Nftables;

/// <summary>
/// The native nftables backend (<see cref="NatMapBackend.Nftables"/>) beside a real Docker Engine (dockerd 20.10) that
/// uses iptables, nft or legacy: Docker's FORWARD policy is DROP, and in nftables an accept in our table does not
/// override a drop in iptables' base chain, so the backend's one <c>DOCKER-USER</c> rule (connections our DNAT
/// translated and marked) is what carries the library's mappings. Everything goes through the public API.
/// </summary>
public sealed class NftDockerCoexistenceTests(DockerEngineFixture engines) : IClassFixture<DockerEngineFixture>
{
    public static TheoryData<string> DockersIptables => Kernel.Backends;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    internal static IptablesManager Manager(DockerEngine engine) => engine.Manager(o => o.Backend = NatMapBackend.Nftables);

    internal static async Task<List<string>> AcceptsAsync(DockerEngine engine, bool ipv6) =>
        [.. (await engine.SaveAsync(ipv6)).Split('\n').Where(l => l.Contains("natmap:nft", StringComparison.Ordinal))];

    [Theory]
    [MemberData(nameof(DockersIptables))]
    public async Task Mapping_CarriesLanTraffic_DockersPortsWork_DirectRoutingStaysClosed_AndFlushAllLeavesDockerAsItWas(string dockersIptables)
    {
        var engine = await engines.PrepareAsync(dockersIptables);
        await engine.RunServerAsync("c1", 10);
        await engine.RunServerAsync("c2", 20, "-p", $"{DockerPort}:80", "-p", $"{DockerPort}:80/udp");
        await AssertDockerRulesAsync(engine);
        var dockerBefore = await DockerTablesAsync(engine);
        var routeLocalnet = await engine.ExecAsync(engine.Host, "sysctl", "-n", NatMapDefaults.RouteLocalnetSetting);
        var manager = Manager(engine);
        await manager.SetupAsync(Ct);
        (await manager.CountMissingSetupAsync(Ct)).Should().Be(0);
        foreach (var ipv6 in new[] { false, true })
        {
            (await AcceptsAsync(engine, ipv6)).Should().ContainSingle("one accept per family, where Docker's FORWARD drops")
                .Which.Should().StartWith("-A DOCKER-USER -m conntrack --ctstate DNAT -m connmark --mark 0x1000000/0x1000000");
        }

        await InstallAsync(manager, Maps(10));

        await Probe.ReachesAsync(engine.Ext, TransportProtocol.Tcp, Host4, LibraryPort, "c1", "the library's tcp mapping");
        await Probe.ReachesAsync(engine.Ext, TransportProtocol.Udp, Host4, LibraryPort, "c1", "the library's udp mapping");
        await Probe.ReachesAsync(engine.Ext, TransportProtocol.Tcp, Host6, LibraryPort, "c1", "the library's IPv6 mapping");
        await Probe.ReachesAsync(engine.Ext, TransportProtocol.Tcp, Host4, DockerPort, "c2", "Docker's own -p beside the library");
        await Probe.ReachesAsync(engine.Ext, TransportProtocol.Udp, Host4, DockerPort, "c2", "Docker's own -p/udp beside the library");
        (await manager.ListAsync(Ct)).DockerMaps.Should().BeEquivalentTo(Maps(10));

        // A LAN neighbour routes the container networks through the host and connects straight to c1: the accept
        // admits only what our DNAT translated.
        _ = await engine.ExecAsync(engine.Ext, "ip", "route", "add", Subnet4, "via", Host4);
        _ = await engine.ExecAsync(engine.Ext, "ip", "-6", "route", "add", Subnet6, "via", Host6);
        await AssertDirectRoutingClosedAsync(engine, "c1, mapped by the library's nftables backend: only HOST:PORT was published");

        // Control: without the accept, Docker's FORWARD policy drops the library's mapping; the monitor's check sees it
        // missing and Setup puts it back.
        _ = await engine.ExecAsync(engine.Host, [$"iptables-{engine.Backend}", .. NatMap.Iptables.Nftables.NftRenderer.DockerUserAccept(System.Net.Sockets.AddressFamily.InterNetwork, "natmap:nft").ToArguments(Rules.RuleAction.Delete)]);
        await Probe.NoAnswerAsync(engine.Ext, TransportProtocol.Tcp, Host4, LibraryPort, "Docker's FORWARD drops what no accept admits");
        (await manager.CountMissingSetupAsync(Ct)).Should().Be(1);
        await manager.SetupAsync(Ct);
        await Probe.ReachesAsync(engine.Ext, TransportProtocol.Tcp, Host4, LibraryPort, "c1", "after Setup put the accept back");

        await manager.FlushAllAsync(Ct);

        var dockerAfter = await DockerTablesAsync(engine);
        foreach (var (table, rules) in dockerBefore)
        {
            dockerAfter[table].Should().Be(rules, $"FlushAll must leave {table} as Docker made it");
        }

        (await engine.ExecAsync(engine.Host, "nft", "list", "tables")).Should().NotContain("inet natmap");
        (await engine.ExecAsync(engine.Host, "sysctl", "-n", NatMapDefaults.RouteLocalnetSetting)).Should().Be(routeLocalnet);
        await Probe.ReachesAsync(engine.Ext, TransportProtocol.Tcp, Host4, DockerPort, "c2", "Docker's -p after FlushAll");
        await Probe.NoAnswerAsync(engine.Ext, TransportProtocol.Tcp, Host4, LibraryPort, "FlushAll removed the library's mapping");
    }

    [Theory]
    [MemberData(nameof(DockersIptables))]
    public async Task SetupBeforeDockerdFirstStarts_ThenDockerStarts_SetupAddsTheAccept_AndEverythingWorks(string dockersIptables)
    {
        var engine = await DockerEngine.CreateAsync(dockersIptables, start: false);
        try
        {
            var manager = Manager(engine);
            await manager.SetupAsync(Ct);
            (await AcceptsAsync(engine, ipv6: false)).Should().BeEmpty("iptables does not filter forwarding yet: nothing is written through it");

            await engine.StartAsync();
            await AssertDockerRulesAsync(engine);
            (await manager.CountMissingSetupAsync(Ct)).Should().BeGreaterThan(0, "Docker's FORWARD drops now, and the accept is missing");
            await manager.SetupAsync(Ct);
            (await manager.CountMissingSetupAsync(Ct)).Should().Be(0);

            await engine.RunServerAsync("c1", 10);
            await engine.RunServerAsync("c2", 20, "-p", $"{DockerPort}:80");
            await InstallAsync(manager, Maps(10));

            await Probe.ReachesAsync(engine.Ext, TransportProtocol.Tcp, Host4, LibraryPort, "c1", "the library's mapping");
            await Probe.ReachesAsync(engine.Ext, TransportProtocol.Udp, Host4, LibraryPort, "c1", "the library's udp mapping");
            await Probe.ReachesAsync(engine.Ext, TransportProtocol.Tcp, Host6, LibraryPort, "c1", "the library's IPv6 mapping");
            await Probe.ReachesAsync(engine.Ext, TransportProtocol.Tcp, Host4, DockerPort, "c2", "Docker's own -p");
        }
        finally
        {
            await engine.DisposeAsync();
        }
    }
}

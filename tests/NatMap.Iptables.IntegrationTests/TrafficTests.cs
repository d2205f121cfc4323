using System.Net;
using NatMap.Iptables.IntegrationTests.Infrastructure;
using static NatMap.Iptables.IntegrationTests.Infrastructure.Topology;

namespace NatMap.Iptables.IntegrationTests;

/// <summary>
/// The path matrix: real TCP and UDP through the library's rules on the real kernel, with default options, for both
/// backends, both transports and both families. The host's FORWARD policy is DROP, as on a host running Docker or ufw.
/// </summary>
public sealed class TrafficTests
{
    public static TheoryData<string, RuleApplyMode> Backends => Kernel.AllBackendsAndTransports;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static DockerPortMap Map(string host, string container, TransportProtocol protocol = TransportProtocol.Tcp, string id = "web") =>
        new(id, IPEndPoint.Parse(host), IPEndPoint.Parse(container), protocol);

    private static async Task<(Topology Net, IptablesManager Manager)> StartAsync(string backend, RuleApplyMode transport, params int[] ports)
    {
        var net = await Topology.CreateAsync(backend, ports);
        await net.ExecAsync(net.Host, $"iptables-{net.Iptables}", "-P", "FORWARD", "DROP");
        await net.ExecAsync(net.Host, $"ip6tables-{net.Iptables}", "-P", "FORWARD", "DROP");
        var manager = net.Manager(o => o.ApplyMode = transport);
        await manager.SetupAsync(Ct);
        return (net, manager);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task ExternalClient_ReachesTheContainer_TcpAndUdpIndependent_BothFamilies(string backend, RuleApplyMode transport)
    {
        var (net, manager) = await StartAsync(backend, transport, 80);
        await using var _ = net;
        await manager.InstallDockerMapAsync(Map($"0.0.0.0:8080", $"{C1v4}:80"), Ct);
        await manager.InstallDockerMapAsync(Map($"0.0.0.0:8080", $"{C2v4}:80", TransportProtocol.Udp), Ct);
        await manager.InstallDockerMapAsync(Map($"[::]:8080", $"[{C1v6}]:80"), Ct);
        await manager.InstallDockerMapAsync(Map($"[::]:8080", $"[{C2v6}]:80", TransportProtocol.Udp), Ct);

        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA4, 8080)).Should().Be("c1");
        (await net.ProbeAsync(net.Ext, TransportProtocol.Udp, HostA4, 8080)).Should().Be("c2");
        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA6, 8080)).Should().Be("c1");
        (await net.ProbeAsync(net.Ext, TransportProtocol.Udp, HostA6, 8080)).Should().Be("c2");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Host_ReachesTheContainer_ThroughLoopbackAndEachOwnAddress(string backend, RuleApplyMode transport)
    {
        var (net, manager) = await StartAsync(backend, transport, 80);
        await using var _ = net;
        await manager.InstallDockerMapAsync(Map("0.0.0.0:8080", $"{C1v4}:80"), Ct);
        await manager.InstallDockerMapAsync(Map("[::]:8080", $"[{C1v6}]:80"), Ct);
        await manager.InstallDockerMapAsync(Map("0.0.0.0:8081", $"{C1v4}:80", TransportProtocol.Udp), Ct);
        await manager.InstallDockerMapAsync(Map("[::]:8081", $"[{C1v6}]:80", TransportProtocol.Udp), Ct);

        foreach (var address in new[] { "127.0.0.1", HostA4, HostB4, Bridge4, HostA6, HostB6, Bridge6 })
        {
            (await net.ProbeAsync(net.Host, TransportProtocol.Tcp, address, 8080)).Should().Be("c1", $"host -> {address}:8080");
        }

        foreach (var address in new[] { "127.0.0.1", HostA4, HostA6 })
        {
            // Control: host-originated UDP to a mapped udp port reaches the container, so the null below can tell.
            (await net.ProbeAsync(net.Host, TransportProtocol.Udp, address, 8081)).Should().Be("c1", $"host -> {address}:8081/udp is mapped");
            (await net.ProbeAsync(net.Host, TransportProtocol.Udp, address, 8080)).Should().BeNull("the udp port is not mapped");
        }

        // The kernel never routes ::1 to another interface: IPv6 loopback cannot be translated to a container.
        (await net.ProbeAsync(net.Host, TransportProtocol.Tcp, "::1", 8080)).Should().BeNull();
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Container_ReachesItselfAndASiblingThroughTheHostAddress(string backend, RuleApplyMode transport)
    {
        var (net, manager) = await StartAsync(backend, transport, 80);
        await using var _ = net;
        await manager.InstallDockerMapAsync(Map("0.0.0.0:8080", $"{C1v4}:80"), Ct);
        await manager.InstallDockerMapAsync(Map("[::]:8080", $"[{C1v6}]:80"), Ct);
        await manager.InstallDockerMapAsync(Map("0.0.0.0:8080", $"{C1v4}:80", TransportProtocol.Udp), Ct);

        foreach (var from in new[] { net.C1, net.C2 })
        {
            (await net.ProbeAsync(from, TransportProtocol.Tcp, HostA4, 8080)).Should().Be("c1", $"{from} -> {HostA4}:8080");
            (await net.ProbeAsync(from, TransportProtocol.Tcp, HostA6, 8080)).Should().Be("c1", $"{from} -> [{HostA6}]:8080");
            (await net.ProbeAsync(from, TransportProtocol.Udp, HostB4, 8080)).Should().Be("c1", $"{from} -> {HostB4}:8080/udp");
        }

    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task BoundMapping_AnswersOnlyOnItsAddress(string backend, RuleApplyMode transport)
    {
        var (net, manager) = await StartAsync(backend, transport, 80);
        await using var _ = net;
        await manager.InstallDockerMapAsync(Map($"{HostA4}:8080", $"{C1v4}:80"), Ct);
        await manager.InstallDockerMapAsync(Map($"[{HostA6}]:8080", $"[{C1v6}]:80"), Ct);

        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA4, 8080)).Should().Be("c1");
        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostB4, 8080)).Should().BeNull();
        (await net.ProbeAsync(net.Host, TransportProtocol.Tcp, HostA4, 8080)).Should().Be("c1");
        (await net.ProbeAsync(net.Host, TransportProtocol.Tcp, HostB4, 8080)).Should().BeNull();
        (await net.ProbeAsync(net.Host, TransportProtocol.Tcp, "127.0.0.1", 8080)).Should().BeNull();
        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA6, 8080)).Should().Be("c1");
        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostB6, 8080)).Should().BeNull();
        (await net.ProbeAsync(net.Host, TransportProtocol.Tcp, HostA6, 8080)).Should().Be("c1", "control for the null below");
        (await net.ProbeAsync(net.Host, TransportProtocol.Tcp, HostB6, 8080)).Should().BeNull();
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task LoopbackMapping_IsUnreachableFromOutside_EvenForPacketsAddressedTo127(string backend, RuleApplyMode transport)
    {
        var (net, manager) = await StartAsync(backend, transport, 80);
        await using var _ = net;
        await manager.InstallDockerMapAsync(Map("127.0.0.1:8080", $"{C1v4}:80"), Ct);
        await manager.InstallDockerMapAsync(Map("[::1]:8080", $"[{C1v6}]:80"), Ct);

        // Controls: a mapping on every address, to the same container, reaches it from the same sources and families.
        await manager.InstallDockerMapAsync(Map("0.0.0.0:8081", $"{C1v4}:80"), Ct);
        await manager.InstallDockerMapAsync(Map("[::]:8081", $"[{C1v6}]:80"), Ct);
        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA4, 8081)).Should().Be("c1");
        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA6, 8081)).Should().Be("c1");
        (await net.ProbeAsync(net.C2, TransportProtocol.Tcp, HostA4, 8081)).Should().Be("c1");

        (await net.ProbeAsync(net.Host, TransportProtocol.Tcp, "127.0.0.1", 8080)).Should().Be("c1");
        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA4, 8080)).Should().BeNull();
        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA6, 8080)).Should().BeNull();
        (await net.ProbeAsync(net.C2, TransportProtocol.Tcp, HostA4, 8080)).Should().BeNull();

        // A client that sends packets to 127.0.0.1 through the host (its own loopback unhooked) must not get in.
        await net.RouteLoopbackThroughHostAsync();
        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, "127.0.0.1", 8080)).Should().BeNull("the raw-table guard drops it");

        // Control: without the guard the same packets reach the container, so the probe above can tell.
        if (net.IsNftables)
        {
            await net.ExecAsync(net.Host, "nft", "flush", "chain", "inet", NatMapDefaults.CommentPrefix, "guard");
        }
        else
        {
            var guard = manager.RuleBuilder.BuildLoopbackGuard();
            var guardComment = (await net.ExecAsync(net.Host, $"iptables-{net.Iptables}", "-t", "raw", "-S", "PREROUTING")).Contains("natmap:setup:route_localnet", StringComparison.Ordinal)
                ? manager.RuleBuilder.RouteLocalnetComment : manager.RuleBuilder.SetupComment;
            await net.ExecAsync(net.Host, [$"iptables-{net.Iptables}", .. (guard with { Specification = [.. guard.Specification.Select(a => a == manager.RuleBuilder.SetupComment ? guardComment : a)] }).ToArguments(Rules.RuleAction.Delete)]);
        }

        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, "127.0.0.1", 8080)).Should().Be("c1", "without the guard the mapping leaks, as in Docker's known issue");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task ContainerToUnrelatedServerOnTheMappedPort_IsNotRedirected(string backend, RuleApplyMode transport)
    {
        var (net, manager) = await StartAsync(backend, transport, 8080);
        await using var _ = net;
        await manager.InstallDockerMapAsync(Map("0.0.0.0:8080", $"{C2v4}:8080"), Ct);
        await manager.InstallDockerMapAsync(Map("[::]:8080", $"[{C2v6}]:8080"), Ct);
        await net.AllowContainersOutAsync();

        (await net.ProbeAsync(net.C1, TransportProtocol.Tcp, Ext4, 8080)).Should().Be("ext");
        (await net.ProbeAsync(net.C1, TransportProtocol.Tcp, Ext6, 8080)).Should().Be("ext");
        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA4, 8080)).Should().Be("c2", "the mapping itself still works");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task RemovingOneMapping_LeavesTheOthersWorking(string backend, RuleApplyMode transport)
    {
        var (net, manager) = await StartAsync(backend, transport, 80);
        await using var _ = net;
        var tcp8080 = Map("0.0.0.0:8080", $"{C1v4}:80");
        await manager.InstallDockerMapAsync(tcp8080, Ct);
        await manager.InstallDockerMapAsync(Map("0.0.0.0:8080", $"{C2v4}:80", TransportProtocol.Udp), Ct);
        await manager.InstallDockerMapAsync(Map("0.0.0.0:80", $"{C2v4}:80"), Ct);
        await manager.InstallDockerMapAsync(Map("0.0.0.0:808", $"{C2v4}:80", id: "web8"), Ct);

        await manager.RemoveDockerMapAsync(tcp8080, Ct);

        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA4, 8080)).Should().BeNull();
        (await net.ProbeAsync(net.Ext, TransportProtocol.Udp, HostA4, 8080)).Should().Be("c2");
        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA4, 80)).Should().Be("c2");
        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA4, 808)).Should().Be("c2");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task SetupTwice_KeepsEverythingWorking(string backend, RuleApplyMode transport)
    {
        var (net, manager) = await StartAsync(backend, transport, 80);
        await using var _ = net;
        await manager.InstallDockerMapAsync(Map("0.0.0.0:8080", $"{C1v4}:80"), Ct);

        await manager.SetupAsync(Ct);
        await net.Manager(o => o.ApplyMode = transport).SetupAsync(Ct);

        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA4, 8080)).Should().Be("c1");
        (await net.ProbeAsync(net.Host, TransportProtocol.Tcp, "127.0.0.1", 8080)).Should().Be("c1");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task FlushAll_RestoresTheRulesetAndTheSetting(string backend, RuleApplyMode transport)
    {
        var net = await Topology.CreateAsync(backend, 80);
        await using var _ = net;
        await net.AddForeignRulesAsync();
        var before = (V4: await net.SaveAsync(false), V6: await net.SaveAsync(true), Localnet: (await net.ExecAsync(net.Host, "sysctl", "-n", NatMapDefaults.RouteLocalnetSetting)).Trim());
        var manager = net.Manager(o => o.ApplyMode = transport);
        await manager.SetupAsync(Ct);
        await manager.InstallDockerMapAsync(Map("0.0.0.0:8080", $"{C1v4}:80"), Ct);
        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA4, 8080)).Should().Be("c1");

        await manager.FlushAllAsync(Ct);

        (await net.SaveAsync(false)).Should().Be(before.V4);
        (await net.SaveAsync(true)).Should().Be(before.V6);
        (await net.ExecAsync(net.Host, "sysctl", "-n", NatMapDefaults.RouteLocalnetSetting)).Trim().Should().Be(before.Localnet).And.Be("0");
        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA4, 8080)).Should().BeNull();
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task StaticDnat_SinglePortMultiportRangeAndInterface(string backend, RuleApplyMode transport)
    {
        var (net, manager) = await StartAsync(backend, transport, 9000, 9001, 9002, 9100, 9101, 22);
        await using var _ = net;
        await manager.InstallDnatAsync(new DnatConfig(IPAddress.Parse(HostA4), IPAddress.Parse(C1v4), 9000), Ct);
        await manager.InstallDnatAsync(new DnatConfig(IPAddress.Parse(HostA4), IPAddress.Parse(C1v4), PortSet.Parse("9001,9002"), ExternalInterface: "eth0"), Ct);
        await manager.InstallDnatAsync(new DnatConfig(IPAddress.Parse(HostA4), IPAddress.Parse(C2v4), PortSet.Parse("9100-9101"), TransportProtocol.Udp), Ct);
        await manager.InstallDnatAsync(new DnatConfig(IPAddress.Parse(HostB4), IPAddress.Parse(C2v4), 2222) { InternalPort = 22 }, Ct);
        await manager.InstallDnatAsync(new DnatConfig(IPAddress.Parse(HostA6), IPAddress.Parse(C2v6), PortSet.Parse("9001,9002"), ExternalInterface: "eth0"), Ct);
        await manager.InstallDnatAsync(new DnatConfig(IPAddress.Parse(HostA6), IPAddress.Parse(C1v6), 9000, ExternalInterface: "br0"), Ct);

        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA4, 9000)).Should().Be("c1");
        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA4, 9001)).Should().Be("c1");
        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA4, 9002)).Should().Be("c1");
        (await net.ProbeAsync(net.Ext, TransportProtocol.Udp, HostA4, 9100)).Should().Be("c2");
        (await net.ProbeAsync(net.Ext, TransportProtocol.Udp, HostA4, 9101)).Should().Be("c2");
        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostB4, 2222)).Should().Be("c2");
        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA6, 9001)).Should().Be("c2");
        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA6, 9002)).Should().Be("c2");
        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA6, 9000)).Should().BeNull("that DNAT only applies to traffic arriving on br0");

        // Control: arriving on br0, the same DNAT reaches c1. c1 would answer c2 directly on the bridge, so the test
        // masquerades bridge-to-bridge traffic, as a container runtime does for hairpin traffic.
        await net.ExecAsync(net.Host, $"ip6tables-{net.Iptables}", "-t", "nat", "-A", "POSTROUTING", "-o", "br0", "-s", "fd30::/64", "-d", "fd30::/64", "-j", "MASQUERADE");
        (await net.ProbeAsync(net.C2, TransportProtocol.Tcp, HostA6, 9000)).Should().Be("c1", "the br0 DNAT works for traffic arriving on br0");
    }

    /// <summary>
    /// Review item 10: RHEL's iptables-services ends FORWARD in <c>-j REJECT</c> (policy ACCEPT, no ESTABLISHED rule). An
    /// ACCEPT appended to FORWARD sits after it and never matches; the library's chain, reached from the top, does.
    /// </summary>
    [Theory]
    [MemberData(nameof(Backends))]
    public async Task StaticDnat_ForwardEndingInReject_CarriesTraffic(string backend, RuleApplyMode transport)
    {
        var net = await Topology.CreateAsync(backend, 9000, 9100);
        await using var _ = net;
        await net.ExecAsync(net.Host, $"iptables-{net.Iptables}", "-A", "FORWARD", "-j", "REJECT", "--reject-with", "icmp-host-prohibited");
        await net.ExecAsync(net.Host, $"ip6tables-{net.Iptables}", "-A", "FORWARD", "-j", "REJECT", "--reject-with", "icmp6-adm-prohibited");
        var manager = net.Manager(o => o.ApplyMode = transport);
        await manager.SetupAsync(Ct);

        await manager.InstallDnatAsync(new DnatConfig(IPAddress.Parse(HostA4), IPAddress.Parse(C1v4), 9000), Ct);
        await manager.InstallDnatAsync(new DnatConfig(IPAddress.Parse(HostA4), IPAddress.Parse(C2v4), 9100, TransportProtocol.Udp), Ct);
        await manager.InstallDnatAsync(new DnatConfig(IPAddress.Parse(HostA6), IPAddress.Parse(C1v6), 9000, ExternalInterface: "eth0"), Ct);

        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA4, 9000)).Should().Be("c1");
        (await net.ProbeAsync(net.Ext, TransportProtocol.Udp, HostA4, 9100)).Should().Be("c2");
        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA6, 9000)).Should().Be("c1");
        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA4, 9001)).Should().BeNull("an unmapped port still meets the REJECT");
        (await net.ExecAsync(net.Host, $"iptables-{net.Iptables}", "-t", "filter", "-S", "FORWARD")).Trim().Split('\n')[^1]
            .Should().Contain("-j REJECT", "the host's own rule stays last");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task StaticSnat_TheOutsideSeesTheTranslatedSource(string backend, RuleApplyMode transport)
    {
        var (net, manager) = await StartAsync(backend, transport, 80);
        await using var _ = net;
        await net.AllowContainersOutAsync();
        (await net.SeenSourceAsync(net.C1, net.Ext, Ext4, 7000)).Should().Be(C1v4, "without SNAT the outside sees the container");

        await manager.InstallSnatAsync(new SnatConfig(IPAddress.Parse(C1v4), IPAddress.Parse(HostB4), "eth0"), Ct);
        await manager.InstallSnatAsync(new SnatConfig(IPAddress.Parse(C1v6), IPAddress.Parse(HostB6), "eth0"), Ct);

        (await net.SeenSourceAsync(net.C1, net.Ext, Ext4, 7001)).Should().Be(HostB4);
        (await net.SeenSourceAsync(net.C1, net.Ext, Ext6, 7002)).Should().Be(HostB6);
        (await net.SeenSourceAsync(net.C2, net.Ext, Ext4, 7003)).Should().Be(C2v4, "c2 is not translated");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Hairpin_LanClientReachesTheServerThroughTheExternalAddress(string backend, RuleApplyMode transport)
    {
        var (net, manager) = await StartAsync(backend, transport, 80);
        await using var _ = net;
        await net.AllowContainersOutAsync();
        (await net.ProbeAsync(net.C2, TransportProtocol.Tcp, HostB4, 80)).Should().BeNull("nothing listens on the host");

        await manager.InstallHairpinAsync(new HairpinConfig(IPAddress.Parse(HostB4), IPAddress.Parse(C1v4), 80, LanCidr: IPNetwork.Parse("172.30.0.0/24")), Ct);
        await manager.InstallHairpinAsync(new HairpinConfig(IPAddress.Parse(HostB6), IPAddress.Parse(C1v6), 80, LanCidr: IPNetwork.Parse("fd30::/64")), Ct);

        (await net.ProbeAsync(net.C2, TransportProtocol.Tcp, HostB4, 80)).Should().Be("c1");
        (await net.ProbeAsync(net.C2, TransportProtocol.Tcp, HostB6, 80)).Should().Be("c1");
        (await net.SeenSourceAsync(net.C2, net.C1, HostB4, 7004)).Should().BeNull("only the configured ports are translated");
    }
}

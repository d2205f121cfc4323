using System.Net;
using NatMap.Iptables.IntegrationTests.Infrastructure;
using static NatMap.Iptables.IntegrationTests.Infrastructure.Topology;

namespace NatMap.Iptables.IntegrationTests;

/// <summary>
/// What a published port opens beyond what was asked, tried as a LAN neighbour would, with real packets on the real
/// kernel, both backends. The host is set up as Docker sets one up: forwarding on, FORWARD policy DROP, containers
/// allowed out and their replies back in.
/// </summary>
public sealed class ExposureTests
{
    public static TheoryData<string> Backends => Kernel.AllBackends;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static DockerPortMap Map(string host, string container, TransportProtocol protocol = TransportProtocol.Tcp, string id = "web") =>
        new(id, IPEndPoint.Parse(host), IPEndPoint.Parse(container), protocol);

    private static async Task<Topology> DockerLikeHostAsync(string backend, params int[] ports)
    {
        var net = await Topology.CreateAsync(backend, ports);
        await net.ExecAsync(net.Host, $"iptables-{net.Iptables}", "-P", "FORWARD", "DROP");
        await net.ExecAsync(net.Host, $"ip6tables-{net.Iptables}", "-P", "FORWARD", "DROP");
        await net.AllowContainersOutAsync();
        await net.RouteContainersThroughHostAsync();
        return net;
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task DirectRouting_ToMappedAndLoopbackOnlyContainers_IsDropped_WhileThePublishedPathsWork(string backend)
    {
        var net = await DockerLikeHostAsync(backend, 80, 81);
        await using var _ = net;
        var manager = net.Manager();
        await manager.SetupAsync(Ct);
        await manager.InstallDockerMapAsync(Map("0.0.0.0:8080", $"{C1v4}:80"), Ct);
        await manager.InstallDockerMapAsync(Map("0.0.0.0:8080", $"{C1v4}:80", TransportProtocol.Udp), Ct);
        await manager.InstallDockerMapAsync(Map("[::]:8080", $"[{C1v6}]:80"), Ct);
        await manager.InstallDockerMapAsync(Map("[::]:8080", $"[{C1v6}]:80", TransportProtocol.Udp), Ct);
        await manager.InstallDockerMapAsync(Map("127.0.0.1:8082", $"{C2v4}:80", id: "db"), Ct);
        await manager.InstallDockerMapAsync(Map($"{HostB4}:8083", $"{C2v4}:81", id: "api"), Ct);
        await manager.InstallDnatAsync(new DnatConfig(IPAddress.Parse(HostB4), IPAddress.Parse(C2v4), 9000) { InternalPort = 80 }, Ct);
        await manager.InstallDnatAsync(new DnatConfig(IPAddress.Parse(HostB6), IPAddress.Parse(C2v6), 9000) { InternalPort = 80 }, Ct);

        // What was asked for works.
        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA4, 8080)).Should().Be("c1");
        (await net.ProbeAsync(net.Ext, TransportProtocol.Udp, HostA4, 8080)).Should().Be("c1");
        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA6, 8080)).Should().Be("c1");
        (await net.ProbeAsync(net.Ext, TransportProtocol.Udp, HostA6, 8080)).Should().Be("c1");
        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostB4, 8083)).Should().Be("c2");
        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostB4, 9000)).Should().Be("c2");
        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostB6, 9000)).Should().Be("c2");
        (await net.ProbeAsync(net.Host, TransportProtocol.Tcp, "127.0.0.1", 8082)).Should().Be("c2", "the host keeps its loopback-only mapping");
        (await net.ProbeAsync(net.C2, TransportProtocol.Tcp, HostA4, 8080)).Should().Be("c1", "a sibling container goes through the host address");

        // Straight to the container addresses, past the translation: every published container port, the port of a
        // mapping bound to 127.0.0.1 only, a bound mapping's port, a static DNAT's internal port, and an unpublished port.
        (TransportProtocol Protocol, string Address, int Port)[] direct =
        [
            (TransportProtocol.Tcp, C1v4, 80), (TransportProtocol.Udp, C1v4, 80), (TransportProtocol.Tcp, C1v6, 80), (TransportProtocol.Udp, C1v6, 80),
            (TransportProtocol.Tcp, C2v4, 80), (TransportProtocol.Tcp, C2v4, 81), (TransportProtocol.Tcp, C2v6, 80), (TransportProtocol.Tcp, C1v4, 81),
        ];
        var answers = await Probe.EachAsync(direct, d => net.ProbeAsync(net.Ext, d.Protocol, d.Address, d.Port));
        foreach (var ((protocol, address, port), answer) in direct.Zip(answers))
        {
            answer.Should().BeNull($"ext -> {address}:{port}/{protocol} routed straight to the container must be dropped");
        }

        // Control: the same direct route carries packets once the host admits them, so the probes above could tell.
        await net.ExecAsync(net.Host, $"iptables-{net.Iptables}", "-I", "FORWARD", "-d", C2v4, "-j", "ACCEPT");
        await net.ExecAsync(net.Host, $"ip6tables-{net.Iptables}", "-I", "FORWARD", "-d", C1v6, "-j", "ACCEPT");
        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, C2v4, 80)).Should().Be("c2");
        (await net.ProbeAsync(net.Ext, TransportProtocol.Udp, C1v6, 80)).Should().Be("c1");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task DirectRouting_WithTheRulesBeforeThisFix_WouldReachTheContainer(string backend)
    {
        // The regression this class guards: the old filter rule accepted any forwarded packet to the container port.
        var net = await DockerLikeHostAsync(backend, 80);
        await using var _ = net;
        var manager = net.Manager();
        await manager.SetupAsync(Ct);
        await manager.InstallDockerMapAsync(Map("127.0.0.1:8082", $"{C2v4}:80", id: "db"), Ct);
        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, C2v4, 80)).Should().BeNull();

        // Beside the nftables backend the library's only iptables rule sits in DOCKER-USER; an accept there is the analog.
        await net.ExecAsync(net.Host, $"iptables-{net.Iptables}", "-I", net.IsNftables ? NatMapDefaults.DockerUserChain : "NATMAP", "-d", $"{C2v4}/32", "-p", "tcp", "-m", "tcp", "--dport", "80", "-j", "ACCEPT");

        (await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, C2v4, 80)).Should().Be("c2", "an accept that is not tied to the DNAT opens the container to direct routing");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task UdpFlow_StopsReachingTheContainer_WhenItsMappingIsRemoved(string backend)
    {
        var net = await DockerLikeHostAsync(backend, 80);
        await using var _ = net;
        var manager = net.Manager();
        await manager.SetupAsync(Ct);
        var v4 = Map("0.0.0.0:5353", $"{C1v4}:80", TransportProtocol.Udp);
        var v6 = Map($"[{HostA6}]:5353", $"[{C1v6}]:80", TransportProtocol.Udp);
        var dnat = new DnatConfig(IPAddress.Parse(HostB4), IPAddress.Parse(C2v4), 5354, TransportProtocol.Udp) { InternalPort = 80 };
        await manager.InstallDockerMapAsync(v4, Ct);
        await manager.InstallDockerMapAsync(v6, Ct);
        await manager.InstallDnatAsync(dnat, Ct);
        (await net.UdpFlowAsync(net.Ext, HostA4, 5353, 40000)).Should().Be("c1");
        (await net.UdpFlowAsync(net.Ext, HostA6, 5353, 40000)).Should().Be("c1");
        (await net.UdpFlowAsync(net.Ext, HostB4, 5354, 40001)).Should().Be("c2");

        await manager.RemoveDockerMapAsync(v4, Ct);
        await manager.RemoveDockerMapAsync(v6, Ct);
        await manager.RemoveDnatAsync(dnat, Ct);

        (await net.UdpFlowAsync(net.Ext, HostA4, 5353, 40000)).Should().NotBe("c1", "the flow's conntrack entry went with the mapping");
        (await net.UdpFlowAsync(net.Ext, HostA6, 5353, 40000)).Should().NotBe("c1");
        (await net.UdpFlowAsync(net.Ext, HostB4, 5354, 40001)).Should().NotBe("c2");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task UdpFlow_StartsReachingTheContainer_WhenAMappingIsInstalledOverIt(string backend)
    {
        var net = await DockerLikeHostAsync(backend, 80);
        await using var _ = net;
        await net.StartUdpServerAsync(net.Host, "host", 5353, HostA4, HostB4, HostA6);
        var manager = net.Manager();
        await manager.SetupAsync(Ct);
        (await net.UdpFlowAsync(net.Ext, HostA4, 5353, 40002)).Should().Be("host", "the flow exists before the mapping");
        (await net.UdpFlowAsync(net.Ext, HostA6, 5353, 40002)).Should().Be("host");
        (await net.UdpFlowAsync(net.Ext, HostB4, 5353, 40003)).Should().Be("host");

        await manager.InstallDockerMapAsync(Map($"{HostA4}:5353", $"{C1v4}:80", TransportProtocol.Udp), Ct);
        await manager.InstallDockerMapAsync(Map("[::]:5353", $"[{C1v6}]:80", TransportProtocol.Udp), Ct);

        (await net.UdpFlowAsync(net.Ext, HostA4, 5353, 40002)).Should().Be("c1");
        (await net.UdpFlowAsync(net.Ext, HostA6, 5353, 40002)).Should().Be("c1");
        (await net.UdpFlowAsync(net.Ext, HostB4, 5353, 40003)).Should().Be("host", "the mapping is bound to another address, so that flow is left alone");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task UdpFlow_WithoutTheReset_KeepsItsOldPath(string backend)
    {
        // Control for the two tests above: with ConntrackReset.None the same flows keep their old path, so those
        // tests can tell whether the reset ran.
        var net = await DockerLikeHostAsync(backend, 80);
        await using var _ = net;
        await net.StartUdpServerAsync(net.Host, "host", 5353, HostA4, HostB4, HostA6);
        var manager = net.Manager(o => o.ConntrackReset = ConntrackReset.None);
        await manager.SetupAsync(Ct);
        (await net.UdpFlowAsync(net.Ext, HostA4, 5353, 40004)).Should().Be("host");

        var map = Map("0.0.0.0:5353", $"{C1v4}:80", TransportProtocol.Udp);
        await manager.InstallDockerMapAsync(map, Ct);
        (await net.UdpFlowAsync(net.Ext, HostA4, 5353, 40004)).Should().Be("host", "the tracked flow still goes to the host");
        (await net.UdpFlowAsync(net.Ext, HostA4, 5353, 40005)).Should().Be("c1", "a new flow meets the mapping");

        await manager.RemoveDockerMapAsync(map, Ct);
        (await net.UdpFlowAsync(net.Ext, HostA4, 5353, 40005)).Should().Be("c1", "the tracked flow still reaches the removed mapping's container");
    }
}

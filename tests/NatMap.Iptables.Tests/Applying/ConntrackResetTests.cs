using System.ComponentModel;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using NatMap.Iptables.Testing;
using static NatMap.Iptables.Tests.TestData;

namespace NatMap.Iptables.Tests.Applying;

/// <summary>
/// Flows the kernel already tracks follow a change: after the rules of a UDP translation go in or out, the manager
/// deletes the conntrack entries of flows to that host port (and address, when bound), and nothing else.
/// </summary>
public sealed class ConntrackResetTests
{
    private readonly FakeIptables _fake = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private IptablesManager Manager(Action<NatMapOptions>? configure = null, ILogger<IptablesManager>? logger = null)
    {
        var options = new NatMapOptions();
        configure?.Invoke(options);
        return new IptablesManager(_fake, options, logger);
    }

    private List<string> Conntrack() => [.. _fake.Processes.Where(p => p.ToString().Contains("conntrack", StringComparison.Ordinal)).Select(p => p.ToString())];

    private async Task<IptablesManager> SetUpAsync(Action<NatMapOptions>? configure = null, ILogger<IptablesManager>? logger = null)
    {
        var manager = Manager(configure, logger);
        await manager.SetupAsync(Ct);
        _fake.Clear();
        return manager;
    }

    public static TheoryData<string, string> UdpMaps => new()
    {
        // Unbound: every local address, so the port alone.
        { "0.0.0.0:5353", "conntrack -D -f ipv4 -p udp --orig-port-dst 5353" },
        // Bound: that address only.
        { "192.0.2.10:53", "conntrack -D -f ipv4 -p udp --orig-dst 192.0.2.10 --orig-port-dst 53" },
        // Loopback-bound: host flows to 127.0.0.1.
        { "127.0.0.1:53", "conntrack -D -f ipv4 -p udp --orig-dst 127.0.0.1 --orig-port-dst 53" },
        // IPv6 needs the family, or conntrack looks in the IPv4 table.
        { "[2001:db8::10]:53", "conntrack -D -f ipv6 -p udp --orig-dst 2001:db8::10 --orig-port-dst 53" },
    };

    [Theory]
    [MemberData(nameof(UdpMaps))]
    public async Task InstallDockerMap_Udp_DeletesTheFlowsToTheHostPortAfterTheRules(string host, string expected)
    {
        var manager = await SetUpAsync();
        var container = host.StartsWith('[') ? "[fd00::3]:53" : "172.17.0.3:53";

        await manager.InstallDockerMapAsync(Map(host, container, TransportProtocol.Udp), Ct);

        Conntrack().Should().Equal(expected);
        _fake.Processes[^1].ToString().Should().Be(expected, "the flows are deleted once the new rules are in, so their next packet meets them");
    }

    [Theory]
    [MemberData(nameof(UdpMaps))]
    public async Task RemoveDockerMap_Udp_DeletesTheFlowsToTheHostPortAfterTheRules(string host, string expected)
    {
        var manager = await SetUpAsync();
        var map = Map(host, host.StartsWith('[') ? "[fd00::3]:53" : "172.17.0.3:53", TransportProtocol.Udp);
        await manager.InstallDockerMapAsync(map, Ct);
        _fake.Clear();

        await manager.RemoveDockerMapAsync(map, Ct);

        Conntrack().Should().Equal(expected);
        _fake.Processes[^1].ToString().Should().Be(expected);
    }

    [Fact]
    public async Task InstallDockerMap_Tcp_LeavesEstablishedConnectionsByDefault()
    {
        var manager = await SetUpAsync();

        await manager.InstallDockerMapAsync(Map(), Ct);
        await manager.RemoveDockerMapAsync(Map(), Ct);

        Conntrack().Should().BeEmpty();
    }

    [Fact]
    public async Task InstallDockerMap_TcpWithUdpAndTcp_DeletesTcpFlowsToo()
    {
        var manager = await SetUpAsync(o => o.ConntrackReset = ConntrackReset.UdpAndTcp);

        await manager.InstallDockerMapAsync(Map(), Ct);

        Conntrack().Should().Equal("conntrack -D -f ipv4 -p tcp --orig-port-dst 8080");
    }

    [Fact]
    public async Task InstallDockerMap_ConntrackResetNone_RunsNoConntrack()
    {
        var manager = await SetUpAsync(o => o.ConntrackReset = ConntrackReset.None);

        await manager.InstallDockerMapAsync(Map(protocol: TransportProtocol.Udp), Ct);

        Conntrack().Should().BeEmpty();
    }

    [Fact]
    public async Task InstallDockerMap_AlreadyInstalled_ChangesNothingAndResetsNothing()
    {
        var manager = await SetUpAsync();
        await manager.InstallDockerMapAsync(Map(protocol: TransportProtocol.Udp), Ct);
        _fake.Clear();

        await manager.InstallDockerMapAsync(Map(protocol: TransportProtocol.Udp), Ct);

        Conntrack().Should().BeEmpty();
    }

    [Fact]
    public async Task InstallDnat_UdpPortList_OnePerPortOfTheExternalAddress()
    {
        var manager = await SetUpAsync();

        await manager.InstallDnatAsync(new DnatConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), PortSet.Parse("53,5353"), TransportProtocol.Udp), Ct);

        Conntrack().Should().Equal(
            "conntrack -D -f ipv4 -p udp --orig-dst 203.0.113.5 --orig-port-dst 53",
            "conntrack -D -f ipv4 -p udp --orig-dst 203.0.113.5 --orig-port-dst 5353");
    }

    [Fact]
    public async Task InstallDnat_UdpWideRange_OneCommandForTheExternalAddress()
    {
        var manager = await SetUpAsync();

        await manager.InstallDnatAsync(new DnatConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), PortSet.Parse("6000-6100"), TransportProtocol.Udp), Ct);

        Conntrack().Should().Equal("conntrack -D -f ipv4 -p udp --orig-dst 203.0.113.5");
    }

    [Fact]
    public async Task InstallSnatAndHairpin_ResetNothing()
    {
        var manager = await SetUpAsync(o => o.ConntrackReset = ConntrackReset.UdpAndTcp);

        await manager.InstallSnatAsync(new SnatConfig(Ip("10.0.0.2"), Ip("203.0.113.5"), "eth0"), Ct);

        Conntrack().Should().BeEmpty();
    }

    [Fact]
    public async Task SyncAndFlushAll_ResetTheFlowsOfEveryUdpTranslationTheyChange()
    {
        var manager = await SetUpAsync();
        var dns = Map("0.0.0.0:53", "172.17.0.3:53", TransportProtocol.Udp, id: "dns");
        var syslog = Map("192.0.2.10:514", "172.17.0.4:514", TransportProtocol.Udp, id: "syslog");
        await manager.SyncAsync(new NatMapState { DockerMaps = [dns, Map()] }, Ct);
        Conntrack().Should().Equal("conntrack -D -f ipv4 -p udp --orig-port-dst 53");
        _fake.Clear();

        await manager.SyncAsync(new NatMapState { DockerMaps = [syslog, Map()] }, Ct);
        Conntrack().Should().BeEquivalentTo(
            "conntrack -D -f ipv4 -p udp --orig-port-dst 53",
            "conntrack -D -f ipv4 -p udp --orig-dst 192.0.2.10 --orig-port-dst 514");
        _fake.Clear();

        await manager.FlushAllAsync(Ct);
        Conntrack().Should().Equal("conntrack -D -f ipv4 -p udp --orig-dst 192.0.2.10 --orig-port-dst 514");
    }

    [Fact]
    public async Task InstallDockerMap_InANamespace_ConntrackRunsInsideIt()
    {
        var manager = await SetUpAsync(o => o.NetworkNamespace = "lab1");

        await manager.InstallDockerMapAsync(Map(protocol: TransportProtocol.Udp), Ct);

        Conntrack().Should().Equal("ip netns exec lab1 conntrack -D -f ipv4 -p udp --orig-port-dst 8080");
    }

    [Fact]
    public async Task InstallDockerMap_ProgramNotInstalled_RulesStandAndAWarningSaysSo()
    {
        var collector = new FakeLogCollector();
        var manager = await SetUpAsync(logger: new FakeLogger<IptablesManager>(collector));
        _ = _fake.Script.RespondUsing(c => c.FileName == "conntrack", _ => throw new Win32Exception(2, "No such file or directory"));

        await manager.InstallDockerMapAsync(Map(protocol: TransportProtocol.Udp), Ct);

        (await manager.ListAsync(Ct)).DockerMaps.Should().Equal(Map(protocol: TransportProtocol.Udp));
        collector.GetSnapshot().Should().Contain(r => r.Level == LogLevel.Warning && r.Message.Contains("conntrack -D", StringComparison.Ordinal) && r.Message.Contains("ConntrackReset", StringComparison.Ordinal));
    }

    [Fact]
    public async Task InstallDockerMap_ProgramMissingInANamespace_RulesStand()
    {
        var manager = await SetUpAsync(o => o.NetworkNamespace = "lab1");
        _ = _fake.Script.FailWhen(c => c.Arguments is [_, _, _, "conntrack", ..], 1, "exec of \"conntrack\" failed: No such file or directory\n");

        await manager.InstallDockerMapAsync(Map(protocol: TransportProtocol.Udp), Ct);

        (await manager.ListAsync(Ct)).DockerMaps.Should().ContainSingle();
    }

    [Fact]
    public async Task InstallDockerMap_ConntrackFails_ThrowsWithTheCommandAndUndoesTheRules()
    {
        var manager = await SetUpAsync();
        var before = _fake.Save();
        _ = _fake.Script.FailWhen(c => c.FileName == "conntrack", 2, "conntrack v1.4.7 (conntrack-tools): Operation not permitted\n");

        var thrown = await FluentActions.Awaiting(() => manager.InstallDockerMapAsync(Map(protocol: TransportProtocol.Udp), Ct))
            .Should().ThrowAsync<IptablesCommandException>();

        thrown.Which.ExitCode.Should().Be(2);
        thrown.Which.Command.FileName.Should().Be("conntrack");
        thrown.Which.StandardError.Should().Contain("Operation not permitted");
        _fake.Save().Should().Be(before);
    }
}

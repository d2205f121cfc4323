using System.Net;
using NatMap.Iptables.Testing;
using static NatMap.Iptables.Tests.TestData;

namespace NatMap.Iptables.Tests;

/// <summary>Review items 3, 7 and 11 of issue 11 on the stateful fake: duplicates, a failed route lookup, an install before Setup.</summary>
public sealed class ReviewDefectTests
{
    private const string WebComment = "natmap:docker:web:tcp:0.0.0.0:8080:172.17.0.2:80";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<RuleApplyMode> Transports => new() { RuleApplyMode.Batch, RuleApplyMode.PerRule };

    private static FakeIptables Host() => new FakeIptables()
        .AddAddress("eth0", Ip("10.0.0.5"), 24)
        .AddAddress("docker0", Ip("172.17.0.1"), 16);

    private static IptablesManager Manager(FakeIptables host, RuleApplyMode transport) =>
        new(host, new NatMapOptions { EnableIpv6 = false, ApplyMode = transport });

    private static int Copies(FakeIptables host, string ruleFragment) =>
        host.Save().Split('\n').Count(l => l.Contains(ruleFragment, StringComparison.Ordinal));

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Sync_RouteLookupFails_KeepsTheNetworkWideHairpinRule(RuleApplyMode transport)
    {
        var host = Host();
        var manager = Manager(host, transport);
        await manager.SyncAsync(new NatMapState { DockerMaps = [Map()] }, Ct);
        Copies(host, "-A NATMAP-PT3-30 -s 172.17.0.0/16 -d 172.17.0.2/32").Should().Be(1, "the premise: the routes widen the hairpin rule");
        var before = host.Save();
        host.Script.FailWhen(CommandMatch.Program("ip"), 2, "RTNETLINK answers: Operation not permitted");

        await manager.SyncAsync(new NatMapState { DockerMaps = [Map()] }, Ct);

        host.Save().Should().Be(before, "a failed lookup is not 'no routes': the installed /16 rule stays");
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task InstallDockerMap_RouteLookupFails_KeepsTheInstalledNetworkAndAddsNoCopy(RuleApplyMode transport)
    {
        var host = Host();
        var manager = Manager(host, transport);
        await manager.SetupAsync(Ct);
        await manager.InstallDockerMapAsync(Map(), Ct);
        var before = host.Save();
        host.Script.RespondUsing(CommandMatch.Program("ip"), _ => throw new System.ComponentModel.Win32Exception(2, "No such file or directory"));

        await manager.InstallDockerMapAsync(Map(), Ct);

        host.Save().Should().Be(before);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task InstallAndRemove_RulesThereTwice_LeaveOneCopyThenNone(RuleApplyMode transport)
    {
        var host = Host();
        var manager = Manager(host, transport);
        await manager.SetupAsync(Ct);
        await manager.InstallDockerMapAsync(Map(), Ct);
        // Another process installed the same mapping in the gap between this one's read and write (or an older version did).
        foreach (var rule in manager.RuleBuilder.BuildDockerMap(Map(), IPNetwork.Parse("172.17.0.0/16")))
        {
            (await host.RunAsync(new CommandSpec("iptables", rule.ToArguments(NatMap.Iptables.Rules.RuleAction.Add)), Ct)).ExitCode.Should().Be(0);
        }

        Copies(host, WebComment).Should().Be(6, "the premise: every rule twice");

        await manager.InstallDockerMapAsync(Map(), Ct);
        Copies(host, WebComment).Should().Be(3, "an install leaves one copy of each rule");

        foreach (var rule in manager.RuleBuilder.BuildDockerMap(Map(), IPNetwork.Parse("172.17.0.0/16")))
        {
            (await host.RunAsync(new CommandSpec("iptables", rule.ToArguments(NatMap.Iptables.Rules.RuleAction.Add)), Ct)).ExitCode.Should().Be(0);
        }

        await manager.RemoveDockerMapAsync(Map(), Ct);
        Copies(host, WebComment).Should().Be(0, "a removal deletes every copy, or the port stays published");
        (await manager.ListAsync(Ct)).DockerMaps.Should().BeEmpty();
    }

    public static TheoryData<string, Func<IIptablesManager, Task>> InstallsNeedingSetup => new()
    {
        { "InstallDockerMap", m => m.InstallDockerMapAsync(Map(), Ct) },
        { "InstallDnat", m => m.InstallDnatAsync(new DnatConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), 80), Ct) },
    };

    [Theory]
    [MemberData(nameof(InstallsNeedingSetup))]
    public async Task Install_BeforeSetup_SaysSoAndRunsNothing(string operation, Func<IIptablesManager, Task> install)
    {
        foreach (var transport in new[] { RuleApplyMode.Batch, RuleApplyMode.PerRule })
        {
            var host = Host();
            var before = host.Save();

            var act = () => install(Manager(host, transport));

            (await act.Should().ThrowAsync<InvalidOperationException>()).Which.Message.Should()
                .StartWith($"{operation} needs the chain NATMAP in the ").And.Contain("call SetupAsync first").And.Contain("Nothing was changed");
            host.Processes.Should().NotContain(p => p.StandardInput != null || p.Arguments.Contains("-A") || p.Arguments.Contains("-I"), transport.ToString());
            host.Save().Should().Be(before);
        }
    }

    [Fact]
    public async Task InstallSnatAndHairpin_BeforeSetup_NeedNoChainOfTheLibrary()
    {
        var host = Host();
        var manager = Manager(host, RuleApplyMode.Batch);

        await manager.InstallSnatAsync(new SnatConfig(Ip("10.0.0.2"), Ip("203.0.113.5"), "eth0"), Ct);
        await manager.InstallHairpinAsync(new HairpinConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), 80), Ct);

        (await manager.ListAsync(Ct)).Snats.Should().ContainSingle();
    }
}

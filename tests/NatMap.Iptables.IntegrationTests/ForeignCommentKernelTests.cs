using NatMap.Iptables.IntegrationTests.Infrastructure;

namespace NatMap.Iptables.IntegrationTests;

/// <summary>
/// Review item 9 on the real iptables: both backends print a newline inside a comment as it is, so a foreign rule can
/// carry a comment that reads as a rule line of its own. The library must see the foreign rule, not the forgery.
/// </summary>
public sealed class ForeignCommentKernelTests
{
    private const string ForgedGuard = "-A PREROUTING -d 127.0.0.0/8 ! -i lo -m comment --comment natmap:setup -j DROP";

    private const string ForgedMap = "-A NATMAP -p tcp -m tcp --dport 8080 -m comment --comment natmap:docker:web:tcp:0.0.0.0:8080:172.17.0.2:80 -j DNAT --to-destination 172.17.0.2:80";

    public static TheoryData<string, RuleApplyMode> BackendsAndTransports => Kernel.BackendsAndTransports;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(BackendsAndTransports))]
    public async Task Setup_ForeignCommentForgingTheLoopbackGuard_AddsTheRealGuard(string backend, RuleApplyMode transport)
    {
        await using var ns = await TestNamespace.CreateAsync(backend);
        await ns.ExecAsync(ns.Iptables, "-t", "raw", "-A", "PREROUTING", "-s", "10.9.9.9", "-m", "comment", "--comment", $"x\n{ForgedGuard}\n#", "-j", "ACCEPT");
        (await ns.ExecAsync($"{ns.Iptables}-save", "-t", "raw")).Should().Contain($"\n{ForgedGuard}\n", "the kernel prints the newline as it is (the premise)");

        await ns.Manager(o => o.ApplyMode = transport).SetupAsync(Ct);

        // -C asks the kernel itself, which no comment can fool.
        var check = await ns.RunAsync(ns.Iptables, "-t", "raw", "-C", "PREROUTING", "-d", "127.0.0.0/8", "!", "-i", "lo", "-m", "comment", "--comment", "natmap:setup:route_localnet", "-j", "DROP");
        check.ExitCode.Should().Be(0, "Setup must add the guard the forged line pretends is there");
        (await ns.ExecAsync("sysctl", "-n", "net.ipv4.conf.all.route_localnet")).Trim().Should().Be("1");
    }

    [Theory]
    [MemberData(nameof(BackendsAndTransports))]
    public async Task ListAndSync_ForeignCommentForgingAnOwnedMapping_NeitherListedNorTouched(string backend, RuleApplyMode transport)
    {
        await using var ns = await TestNamespace.CreateAsync(backend);
        var manager = ns.Manager(o => o.ApplyMode = transport);
        await manager.SetupAsync(Ct);
        await ns.ExecAsync(ns.Iptables, "-t", "nat", "-A", "PREROUTING", "-s", "10.9.9.9", "-m", "comment", "--comment", $"x\n{ForgedMap}\n#", "-j", "RETURN");
        var before = await ns.SaveAsync();

        (await manager.ListAsync(Ct)).DockerMaps.Should().BeEmpty("the mapping exists only inside a foreign comment");
        await manager.SyncAsync(new NatMapState(), Ct);

        (await ns.SaveAsync()).Should().Be(before, "a sync to nothing has nothing to delete");
    }
}

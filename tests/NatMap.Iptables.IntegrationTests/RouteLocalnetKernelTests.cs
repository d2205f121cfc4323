using NatMap.Iptables.IntegrationTests.Infrastructure;

namespace NatMap.Iptables.IntegrationTests;

/// <summary>
/// The loopback guard invariant on the real kernel, both backends: net.ipv4.conf.all.route_localnet is 1 only while
/// a raw PREROUTING guard drops packets to 127.0.0.0/8 from other interfaces, after a foreign <c>iptables -t raw -F</c>
/// followed by a new manager, and with two managers of different prefixes. Ownership lives in the guard's comment.
/// </summary>
public sealed class RouteLocalnetKernelTests
{
    public static TheoryData<string> Backends => Kernel.Backends;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<string> RouteLocalnetAsync(TestNamespace ns) =>
        (await ns.ExecAsync("sysctl", "-n", "net.ipv4.conf.all.route_localnet")).Trim();

    private static async Task<string[]> GuardsAsync(TestNamespace ns) =>
        [.. (await ns.RulesAsync("raw", "PREROUTING")).Where(static r => r.Contains("-d 127.0.0.0/8 ! -i lo", StringComparison.Ordinal) && r.EndsWith("-j DROP", StringComparison.Ordinal))];

    private static async Task GuardedAsync(TestNamespace ns, string because)
    {
        if (await RouteLocalnetAsync(ns) == "1")
        {
            (await GuardsAsync(ns)).Should().NotBeEmpty($"route_localnet=1 needs its guard: {because}");
        }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task ForeignRawFlush_ThenANewManagersSetupAndFlushAll_LeavesRouteLocalnetOff(string backend)
    {
        await using var ns = await TestNamespace.CreateAsync(backend);
        await ns.Manager().SetupAsync(Ct);
        (await RouteLocalnetAsync(ns)).Should().Be("1");

        await ns.ExecAsync(ns.Iptables, "-t", "raw", "-F");
        var second = ns.Manager();
        await second.SetupAsync(Ct);

        (await GuardsAsync(ns)).Should().ContainSingle().Which.Should().Contain("natmap:setup:route_localnet", "the guard put back owns the setting again");
        await second.FlushAllAsync(Ct);
        (await RouteLocalnetAsync(ns)).Should().Be("0");
        (await GuardsAsync(ns)).Should().BeEmpty();
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task TwoManagersWithOtherPrefixes_SetupAndFlushAllInTurn_KeepTheSettingGuarded(string backend)
    {
        await using var ns = await TestNamespace.CreateAsync(backend);
        var a = ns.Manager(o => (o.CommentPrefix, o.ChainName) = ("alpha", "ALPHA"));
        var b = ns.Manager(o => (o.CommentPrefix, o.ChainName) = ("beta", "BETA"));

        foreach (var (name, step) in new (string, Func<Task>)[]
        {
            ("A.Setup", () => a.SetupAsync(Ct)),
            ("B.Setup", () => b.SetupAsync(Ct)),
            ("A.FlushAll", () => a.FlushAllAsync(Ct)),
            ("B.Setup", () => b.SetupAsync(Ct)),
            ("raw -F then A.Setup", async () => { await ns.ExecAsync(ns.Iptables, "-t", "raw", "-F"); await a.SetupAsync(Ct); }),
            ("B.FlushAll", () => b.FlushAllAsync(Ct)),
            ("A.FlushAll", () => a.FlushAllAsync(Ct)),
        })
        {
            await step();
            await GuardedAsync(ns, $"after {name}");
        }

        (await RouteLocalnetAsync(ns)).Should().Be("0", "both managers flushed");
        (await GuardsAsync(ns)).Should().BeEmpty();
    }
}

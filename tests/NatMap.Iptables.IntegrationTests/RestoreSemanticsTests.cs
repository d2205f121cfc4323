using NatMap.Iptables.IntegrationTests.Infrastructure;

namespace NatMap.Iptables.IntegrationTests;

/// <summary>
/// What the batch transport relies on in <c>iptables-restore --noflush</c>, checked on both backends: each table
/// commits on its own and all or nothing, tables before a failing one stay committed, <c>-N</c> of an existing chain
/// fails, and a <c>:CHAIN</c> declaration flushes an existing chain (so the library never writes one).
/// </summary>
public sealed class RestoreSemanticsTests
{
    public static TheoryData<string> Backends => Kernel.Backends;

    private static async Task<(TestNamespace Ns, string Before)> StartAsync(string backend)
    {
        var ns = await TestNamespace.CreateAsync(backend);
        await ns.ExecAsync(ns.Iptables, "-t", "nat", "-N", "NATMAP");
        await ns.ExecAsync(ns.Iptables, "-t", "nat", "-A", "NATMAP", "-p", "tcp", "-j", "RETURN");
        await ns.ExecAsync(ns.Iptables, "-t", "filter", "-N", "NATMAP");
        return (ns, await ns.SaveAsync());
    }

    private static Task<CommandResult> RestoreAsync(TestNamespace ns, string input) =>
        new CliWrapCommandRunner(TimeSpan.FromSeconds(30)).RunAsync(
            new CommandSpec("ip", ["netns", "exec", ns.Name, $"{ns.Iptables}-restore", "--noflush", "-w", "5"], input),
            TestContext.Current.CancellationToken);

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task OneInvalidRule_LeavesTheTableExactlyAsItWas(string backend)
    {
        var (ns, before) = await StartAsync(backend);
        await using var _ = ns;

        var result = await RestoreAsync(ns, "*nat\n-A NATMAP -p udp -j RETURN\n-A NATMAP -p tcp -j DROP\n-A NATMAP -p icmp -j RETURN\nCOMMIT\n");

        result.ExitCode.Should().NotBe(0, "DROP is not allowed in the nat table");
        (await ns.SaveAsync()).Should().Be(before);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task DeletingAMissingRule_FailsTheWholeTable(string backend)
    {
        var (ns, before) = await StartAsync(backend);
        await using var _ = ns;

        var result = await RestoreAsync(ns, "*nat\n-D NATMAP -p tcp -j RETURN\n-D NATMAP -p udp -j RETURN\nCOMMIT\n");

        result.ExitCode.Should().NotBe(0);
        (await ns.SaveAsync()).Should().Be(before, "the first delete is undone with the rest of the table");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task ALaterTableFails_EarlierTablesStayCommitted(string backend)
    {
        var (ns, _) = await StartAsync(backend);
        await using var __ = ns;

        var result = await RestoreAsync(ns, "*nat\n-A NATMAP -p udp -j RETURN\nCOMMIT\n*filter\n-N NATMAP\nCOMMIT\n");

        result.ExitCode.Should().NotBe(0, "filter NATMAP exists already");
        (await ns.RulesAsync("nat", "NATMAP")).Should().Equal("-A NATMAP -p tcp -j RETURN", "-A NATMAP -p udp -j RETURN");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task ChainDeclaration_FlushesAnExistingChainEvenWithNoflush(string backend)
    {
        var (ns, _) = await StartAsync(backend);
        await using var __ = ns;

        var result = await RestoreAsync(ns, "*nat\n:NATMAP - [0:0]\nCOMMIT\n");

        result.ExitCode.Should().Be(0);
        (await ns.RulesAsync("nat", "NATMAP")).Should().BeEmpty("this is why the library writes -N for missing chains only");
    }
}

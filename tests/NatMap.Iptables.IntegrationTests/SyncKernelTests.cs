using System.Collections.Concurrent;
using System.Net;
using NatMap.Iptables.IntegrationTests.Infrastructure;
using static NatMap.Iptables.IntegrationTests.ManagerKernelTests;

namespace NatMap.Iptables.IntegrationTests;

/// <summary>
/// SyncAsync against the real iptables: from any starting table it converges to exactly the rules that Setup and one
/// install per object would have made, leaving foreign rules alone.
/// </summary>
public sealed class SyncKernelTests
{
    public static TheoryData<string, RuleApplyMode> BackendsAndTransports => Kernel.BackendsAndTransports;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static NatMapState Everything => new() { DockerMaps = Maps, Dnats = Dnats, Snats = Snats, Hairpins = Hairpins };

    private static NatMapState Extra => new()
    {
        DockerMaps = [new DockerPortMap("old", IPEndPoint.Parse("0.0.0.0:9090"), IPEndPoint.Parse("172.17.0.9:80"))],
        Dnats = [new DnatConfig(IPAddress.Parse("203.0.113.9"), IPAddress.Parse("10.0.0.9"), 25)],
        Hairpins = [new HairpinConfig(IPAddress.Parse("2001:db8::9"), IPAddress.Parse("fd00::99"), 8080)],
    };

    /// <summary>A ruleset as sorted lines per family: a sync may order rules of different objects differently than one-by-one installs.</summary>
    private static async Task<string> RulesetAsync(TestNamespace ns) =>
        string.Join('\n', (await ns.SaveAsync() + "\n" + await ns.SaveAsync(ipv6: true)).Split('\n').Order(StringComparer.Ordinal));

    /// <summary>The reference: Setup, then one install per object, on a namespace prepared the same way.</summary>
    private static async Task<string> ReferenceAsync(string backend, bool foreign)
    {
        await using var ns = await TestNamespace.CreateAsync(backend);
        if (foreign)
        {
            await ForeignRules.AddAsync(args => ns.ExecAsync(args[0], args[1..]), backend);
        }

        var manager = ns.Manager();
        await manager.SetupAsync(Ct);
        await InstallEverythingAsync(manager);
        return await RulesetAsync(ns);
    }

    private static void ShouldHoldExactly(NatMapState actual, NatMapState expected)
    {
        actual.DockerMaps.Should().BeEquivalentTo(expected.DockerMaps);
        actual.Dnats.Should().BeEquivalentTo(expected.Dnats);
        actual.Snats.Should().BeEquivalentTo(expected.Snats);
        actual.Hairpins.Should().BeEquivalentTo(expected.Hairpins);
    }

    [Theory]
    [MemberData(nameof(BackendsAndTransports))]
    public async Task Sync_FromEmpty_EqualsSetupAndOneInstallPerObject(string backend, RuleApplyMode transport)
    {
        var reference = await ReferenceAsync(backend, foreign: false);
        await using var ns = await TestNamespace.CreateAsync(backend);
        var manager = ns.Manager(o => o.ApplyMode = transport);

        await manager.SyncAsync(Everything, Ct);

        (await RulesetAsync(ns)).Should().Be(reference);
        ShouldHoldExactly(await manager.ListAsync(Ct), Everything);
    }

    [Theory]
    [MemberData(nameof(BackendsAndTransports))]
    public async Task Sync_FromASupersetWithForeignRules_RemovesTheExtraObjectsAndKeepsTheForeignRules(string backend, RuleApplyMode transport)
    {
        var reference = await ReferenceAsync(backend, foreign: true);
        await using var ns = await TestNamespace.CreateAsync(backend);
        await ForeignRules.AddAsync(args => ns.ExecAsync(args[0], args[1..]), backend);
        var manager = ns.Manager(o => o.ApplyMode = transport);
        await manager.SetupAsync(Ct);
        await InstallEverythingAsync(manager);
        await manager.InstallDockerMapAsync(Extra.DockerMaps[0], Ct);
        await manager.InstallDnatAsync(Extra.Dnats[0], Ct);
        await manager.InstallHairpinAsync(Extra.Hairpins[0], Ct);

        await manager.SyncAsync(Everything, Ct);

        (await RulesetAsync(ns)).Should().Be(reference);
        ShouldHoldExactly(await manager.ListAsync(Ct), Everything);
    }

    [Theory]
    [MemberData(nameof(BackendsAndTransports))]
    public async Task Sync_FromASubsetWithPartOfSetupDeleted_AddsWhatIsMissing(string backend, RuleApplyMode transport)
    {
        var reference = await ReferenceAsync(backend, foreign: true);
        await using var ns = await TestNamespace.CreateAsync(backend);
        await ForeignRules.AddAsync(args => ns.ExecAsync(args[0], args[1..]), backend);
        var manager = ns.Manager(o => o.ApplyMode = transport);
        await manager.SetupAsync(Ct);
        await manager.InstallDockerMapAsync(Maps[0], Ct);
        await manager.InstallSnatAsync(Snats[1], Ct);

        // Break part of Setup too: the sync puts it back.
        await ns.ExecAsync(ns.Iptables, "-t", "nat", "-D", "OUTPUT", "-m", "addrtype", "--dst-type", "LOCAL", "-m", "comment", "--comment", "natmap:setup", "-j", "NATMAP");

        await manager.SyncAsync(Everything, Ct);

        (await RulesetAsync(ns)).Should().Be(reference);
    }

    [Theory]
    [MemberData(nameof(BackendsAndTransports))]
    public async Task Sync_NothingToChange_OnlyReads(string backend, RuleApplyMode transport)
    {
        await using var ns = await TestNamespace.CreateAsync(backend);
        var commands = new ConcurrentQueue<CommandSpec>();
        var manager = ns.Manager(inner => new ObservingRunner(inner, commands), o => o.ApplyMode = transport);
        await manager.SyncAsync(Everything, Ct);
        var before = await RulesetAsync(ns);
        commands.Clear();

        await manager.SyncAsync(Everything, Ct);

        (await RulesetAsync(ns)).Should().Be(before);
        commands.Should().NotBeEmpty().And.OnlyContain(c =>
            c.StandardInput == null &&
            (c.Arguments.Contains("-S") || c.Arguments.Any(a => a.EndsWith("-save", StringComparison.Ordinal)) || c.Arguments.Contains("route") || c.Arguments.Contains("-n")),
            "a no-op sync runs only reads: iptables-save or -S, the routes, and the route_localnet setting");
    }

    [Theory]
    [MemberData(nameof(BackendsAndTransports))]
    public async Task Sync_ToEmpty_RemovesEveryObjectButKeepsSetup(string backend, RuleApplyMode transport)
    {
        await using var ns = await TestNamespace.CreateAsync(backend);
        var manager = ns.Manager(o => o.ApplyMode = transport);
        await manager.SetupAsync(Ct);
        var setupOnly = await RulesetAsync(ns);
        await InstallEverythingAsync(manager);

        await manager.SyncAsync(new NatMapState(), Ct);

        (await RulesetAsync(ns)).Should().Be(setupOnly);
    }

    private sealed class ObservingRunner(ICommandRunner inner, ConcurrentQueue<CommandSpec> commands) : ICommandRunner
    {
        public Task<CommandResult> RunAsync(CommandSpec command, CancellationToken cancellationToken = default)
        {
            commands.Enqueue(command);
            return inner.RunAsync(command, cancellationToken);
        }
    }
}

using System.Net;
using System.Net.Sockets;
using System.Reflection;
using NatMap.Iptables.IntegrationTests.Infrastructure;
using NatMap.Iptables.Nftables;
using NatMap.Iptables.Tests.Nftables;
using static NatMap.Iptables.IntegrationTests.Infrastructure.Topology;

namespace NatMap.Iptables.IntegrationTests.Nftables;

/// <summary>
/// The nftables groundwork on the real kernel: the rendered tables load, list back as their golden files, take
/// element transactions, and carry real packets with the same semantics as the iptables backend; deleting the table
/// leaves the host's ruleset exactly as it was.
/// </summary>
public sealed class NftKernelTests
{
    private static readonly CliWrapCommandRunner Runner = new(TimeSpan.FromSeconds(60));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static NftRenderer Renderer => NftRenderer.Default;

    private static DockerPortMap Map(string host, string container, TransportProtocol protocol = TransportProtocol.Tcp, string id = "web") =>
        new(id, IPEndPoint.Parse(host), IPEndPoint.Parse(container), protocol);

    [Fact]
    public async Task EveryGoldenTable_LoadsAndListsBackAsWritten_ParsesBack_AndDeletingItRestoresTheRuleset()
    {
        await using var ns = await TestNamespace.CreateAsync("nft");
        var before = await ns.ExecAsync("nft", "list", "ruleset");
        foreach (var (scenario, state) in NftScenarios.All)
        {
            // Twice, as Setup run twice or a Sync after a Setup does: the second load replaces the first atomically.
            await NftAsync(ns.Name, Renderer.RenderFull(state));
            await NftAsync(ns.Name, Renderer.RenderFull(state));

            var listed = await ns.ExecAsync("nft", "list", "table", "inet", "natmap") + await ns.ExecAsync("nft", "list", "table", "inet", "natmap-static");
            var golden = await File.ReadAllTextAsync(Path.Combine(UnitTestsDirectory, "Nftables", "Golden", scenario + ".nft"), Ct);
            Assert.Equal(SortElements(golden), SortElements(listed));

            var parsed = await ListAsync(ns.Name);
            Assert.True(parsed.SetupComplete, scenario);
            Assert.Empty(parsed.Foreign);
            Assert.Equal(state.Mappings.Count + state.Dnats.Count + state.Snats.Count + state.Hairpins.Count,
                parsed.Mappings.Count + parsed.Dnats.Count + parsed.Snats.Count + parsed.Hairpins.Count);

            await NftAsync(ns.Name, Renderer.RenderDeleteTable());
            Assert.Equal(before, await ns.ExecAsync("nft", "list", "ruleset"));
        }
    }

    [Fact]
    public async Task ElementTransactions_AddAndDeleteOneMapping_AConflictFailsWholeAndChangesNothing()
    {
        await using var ns = await TestNamespace.CreateAsync("nft");
        await NftAsync(ns.Name, Renderer.RenderFull(NftDesiredState.Empty));
        var web = Map("0.0.0.0:8080", "172.17.0.2:80");
        var db = Map("[::1]:5432", "[fd00::4]:5432", id: "db");

        // Both families in one transaction.
        await NftAsync(ns.Name, Renderer.RenderAddMappings([web, db]));
        Assert.Equal([web, db], await ListMappingsAsync(ns.Name));

        // The same key with another value is refused, and the transaction's other element is not added either.
        var other = Map("0.0.0.0:8081", "172.17.0.9:81", id: "other");
        var result = await NftRunAsync(ns.Name, Renderer.RenderAddMappings([other, web with { ContainerEndpoint = IPEndPoint.Parse("172.17.0.3:80") }]));
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("File exists", result.StandardError, StringComparison.Ordinal);
        Assert.Equal([web, db], await ListMappingsAsync(ns.Name));

        // Deleting a missing element fails too: a removal never passes silently.
        await NftAsync(ns.Name, Renderer.RenderDeleteMappings([web]));
        Assert.Equal([db], await ListMappingsAsync(ns.Name));
        Assert.NotEqual(0, (await NftRunAsync(ns.Name, Renderer.RenderDeleteMappings([web]))).ExitCode);

        // A static rule is added at the end of its chain and deleted by the handle the listing reports.
        var dnat = new DnatConfig(IPAddress.Parse("203.0.113.5"), IPAddress.Parse("10.0.0.2"), PortSet.Parse("443,80"));
        await NftAsync(ns.Name, Renderer.RenderAddDnat(dnat));
        var owned = Assert.Single((await ListAsync(ns.Name)).Dnats);
        Assert.Equal(dnat with { Ports = PortSet.Parse("80,443") }, owned.Config);
        await NftAsync(ns.Name, Renderer.RenderDeleteRule(owned.Chain, owned.Handle));
        Assert.Empty((await ListAsync(ns.Name)).Dnats);
    }

    /// <summary>
    /// The planner's scripts on the kernel: Setup and FlushAll are safe twice, an install is safe twice, a remove of a
    /// missing mapping is no error, a remove of a key that holds another target fails whole and changes nothing, and a
    /// Sync lists back exactly what it was asked for, after which a second Sync plans nothing.
    /// </summary>
    [Fact]
    public async Task PlannerScripts_ConvergeOnTheKernel()
    {
        await using var ns = await TestNamespace.CreateAsync("nft");
        var planner = new NftPlanner(Renderer);
        var before = await NftListRulesetAsync(ns.Name);
        await NftAsync(ns.Name, planner.Setup(null));
        Assert.Equal(string.Empty, planner.Setup(await ListAsync(ns.Name)));

        var web = Map("0.0.0.0:8080", "172.17.0.2:80");
        await NftAsync(ns.Name, planner.InstallMapping(web));
        await NftAsync(ns.Name, planner.InstallMapping(web));
        Assert.Equal([web], await ListMappingsAsync(ns.Name));
        await NftAsync(ns.Name, planner.RemoveMapping(Map("0.0.0.0:9090", "172.17.0.2:90")));
        var moved = await NftRunAsync(ns.Name, planner.RemoveMapping(web with { ContainerEndpoint = IPEndPoint.Parse("172.17.0.3:80") }));
        Assert.Contains("File exists", moved.StandardError, StringComparison.Ordinal);
        Assert.Equal([web], await ListMappingsAsync(ns.Name));
        await NftAsync(ns.Name, planner.RemoveMapping(web));
        Assert.Empty(await ListMappingsAsync(ns.Name));

        var dnat = new DnatConfig(IPAddress.Parse("203.0.113.5"), IPAddress.Parse("10.0.0.2"), PortSet.Parse("443,80"));
        var desired = new NatMapState
        {
            DockerMaps = [web, Map("[::]:8443", "[fd00::2]:443", id: "v6"), Map("127.0.0.1:5432", "172.17.0.4:5432", TransportProtocol.Udp, "db")],
            Dnats = [dnat],
            Snats = [new SnatConfig(IPAddress.Parse("fd00::2"), IPAddress.Parse("2001:db8::5"), "eth+")],
            Hairpins = [new HairpinConfig(IPAddress.Parse("203.0.113.5"), IPAddress.Parse("192.168.1.20"), PortSet.Parse("80")) { LanCidr = IPNetwork.Parse("192.168.1.0/24") }],
        };
        await NftAsync(ns.Name, planner.InstallDnat(dnat, await ListAsync(ns.Name)));
        await NftAsync(ns.Name, planner.InstallMapping(Map("0.0.0.0:7070", "172.17.0.7:70", id: "gone")));
        await NftAsync(ns.Name, planner.Sync(desired, await ListAsync(ns.Name)));

        var listed = NftPlanner.ToState(await ListAsync(ns.Name));
        Assert.Equal(desired.DockerMaps.OrderBy(m => m.ContainerId), listed.DockerMaps.OrderBy(m => m.ContainerId));
        Assert.Equal([dnat with { Ports = PortSet.Parse("80,443") }], listed.Dnats);
        Assert.Equal(desired.Snats, listed.Snats);
        Assert.Equal(desired.Hairpins, listed.Hairpins);
        Assert.Equal(string.Empty, planner.Sync(desired, await ListAsync(ns.Name)));

        await NftAsync(ns.Name, planner.FlushAll());
        await NftAsync(ns.Name, planner.FlushAll());
        Assert.Equal(before, await NftListRulesetAsync(ns.Name));
    }

    /// <summary>
    /// The path matrix on a host set up as Docker sets one up, with iptables-nft's FORWARD policy DROP: the published
    /// paths work only once the one DOCKER-USER rule that accepts our mark is there, and nothing else gets in.
    /// </summary>
    [Fact]
    public async Task Traffic_OnAForwardDropHost_PublishedPathsWork_NothingElseGetsIn_AndDeletingTheTableRestoresTheHost()
    {
        await using var net = await Topology.CreateAsync("nft", 80, 8080);
        foreach (var program in new[] { "iptables-nft", "ip6tables-nft" })
        {
            await net.ExecAsync(net.Host, program, "-P", "FORWARD", "DROP");
            await net.ExecAsync(net.Host, program, "-N", "DOCKER-USER");
            await net.ExecAsync(net.Host, program, "-A", "FORWARD", "-j", "DOCKER-USER");
        }

        await net.AllowContainersOutAsync();
        await net.RouteContainersThroughHostAsync();
        await net.ExecAsync(net.Host, "sysctl", "-q", "-w", "net.ipv4.conf.all.route_localnet=1");
        var before = await net.ExecAsync(net.Host, "nft", "-s", "list", "ruleset");

        await NftAsync(net.Host, Renderer.RenderFull(NftDesiredState.Empty));
        await NftAsync(net.Host, Renderer.RenderAddMappings(
        [
            Map("0.0.0.0:8080", $"{C1v4}:80"),
            Map("0.0.0.0:8080", $"{C2v4}:80", TransportProtocol.Udp),
            Map("[::]:8080", $"[{C1v6}]:80"),
            Map("[::]:8080", $"[{C2v6}]:80", TransportProtocol.Udp),
            Map($"{HostB4}:8081", $"{C1v4}:80", id: "bound"),
            Map("127.0.0.1:8082", $"{C2v4}:80", id: "local"),
            Map("0.0.0.0:9000", $"{C1v4}:9000", id: "seen"),
        ]));

        // An accept in our table is not final: iptables' FORWARD policy still drops the translated connection.
        Assert.Null(await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA4, 8080));

        foreach (var family in new[] { AddressFamily.InterNetwork, AddressFamily.InterNetworkV6 })
        {
            await net.ExecAsync(net.Host, [family == AddressFamily.InterNetwork ? "iptables-nft" : "ip6tables-nft", .. NftRenderer.DockerUserAccept(family, "natmap:nft").ToArguments(Rules.RuleAction.Add)]);
        }

        // External clients, both transports and families, each to its own container.
        Assert.Equal("c1", await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA4, 8080));
        Assert.Equal("c2", await net.ProbeAsync(net.Ext, TransportProtocol.Udp, HostA4, 8080));
        Assert.Equal("c1", await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA6, 8080));
        Assert.Equal("c2", await net.ProbeAsync(net.Ext, TransportProtocol.Udp, HostA6, 8080));

        // The host itself: its own addresses and 127.0.0.1.
        Assert.Equal("c1", await net.ProbeAsync(net.Host, TransportProtocol.Tcp, "127.0.0.1", 8080));
        Assert.Equal("c1", await net.ProbeAsync(net.Host, TransportProtocol.Tcp, HostB4, 8080));
        Assert.Equal("c1", await net.ProbeAsync(net.Host, TransportProtocol.Tcp, HostA6, 8080));
        Assert.Equal("c2", await net.ProbeAsync(net.Host, TransportProtocol.Tcp, "127.0.0.1", 8082));

        // A bound mapping answers on its address only.
        Assert.Equal("c1", await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostB4, 8081));
        Assert.Null(await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA4, 8081));

        // External clients keep their address; a container reaching a sibling through the host address is
        // masqueraded, so the sibling answers through the host.
        Assert.Equal(Ext4, await net.SeenSourceAsync(net.Ext, net.C1, HostA4, 9000));
        Assert.Equal("c1", await net.ProbeAsync(net.C2, TransportProtocol.Tcp, HostA4, 8080));
        Assert.Equal(Bridge4, await net.SeenSourceAsync(net.C2, net.C1, HostA4, 9000));

        // Transit to port 8080 of another host is not redirected.
        Assert.Equal("ext", await net.ProbeAsync(net.C1, TransportProtocol.Tcp, Ext4, 8080));

        // Direct routing to the container is not admitted: only translated, marked connections are.
        Assert.Null(await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, C1v4, 80));
        Assert.Null(await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, C1v6, 80));

        // One element removed in its own transaction: its path closes, its sibling of the other protocol stays.
        await NftAsync(net.Host, Renderer.RenderDeleteMappings([Map("0.0.0.0:8080", $"{C2v4}:80", TransportProtocol.Udp)]));
        Assert.Null(await net.ProbeAsync(net.Ext, TransportProtocol.Udp, HostA4, 8080));
        Assert.Equal("c1", await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA4, 8080));

        // The table is the whole footprint in nftables: deleting it leaves exactly what was there before.
        await NftAsync(net.Host, Renderer.RenderDeleteTable());
        foreach (var family in new[] { AddressFamily.InterNetwork, AddressFamily.InterNetworkV6 })
        {
            await net.ExecAsync(net.Host, [family == AddressFamily.InterNetwork ? "iptables-nft" : "ip6tables-nft", .. NftRenderer.DockerUserAccept(family, "natmap:nft").ToArguments(Rules.RuleAction.Delete)]);
        }

        // Stateless (-s): iptables' own counters moved while the probes ran.
        Assert.Equal(before, await net.ExecAsync(net.Host, "nft", "-s", "list", "ruleset"));
        Assert.Null(await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, HostA4, 8080));
    }

    /// <summary>
    /// A mapping bound to 127.0.0.1 stays on the host even for a LAN neighbour that sends packets addressed to
    /// 127.0.0.1 at it, with route_localnet on: the raw guard drops them before DNAT.
    /// </summary>
    [Fact]
    public async Task LoopbackMapping_PacketsTo127FromTheLan_AreDroppedByTheGuard()
    {
        await using var net = await Topology.CreateAsync("nft", 80);
        await net.RouteLoopbackThroughHostAsync();
        await net.ExecAsync(net.Host, "sysctl", "-q", "-w", "net.ipv4.conf.all.route_localnet=1");
        var local = Map("127.0.0.1:8082", $"{C1v4}:80", id: "local");
        await NftAsync(net.Host, Renderer.RenderFull(NftDesiredState.Empty with { Mappings = [local] }));

        Assert.Equal("c1", await net.ProbeAsync(net.Host, TransportProtocol.Tcp, "127.0.0.1", 8082));
        Assert.Null(await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, "127.0.0.1", 8082));

        // Without the guard the same packets would get in: the test can tell.
        var guard = NftListingHandle(await net.ExecAsync(net.Host, "nft", "-a", "list", "chain", "inet", "natmap", NftSchema.GuardChain));
        await NftAsync(net.Host, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"delete rule inet natmap {NftSchema.GuardChain} handle {guard}\n"));
        Assert.Equal("c1", await net.ProbeAsync(net.Ext, TransportProtocol.Tcp, "127.0.0.1", 8082));
    }

    private static long NftListingHandle(string listing) =>
        long.Parse(listing.Split('\n').Single(l => l.Contains("drop comment", StringComparison.Ordinal)).Split("# handle ")[1].Trim(), System.Globalization.CultureInfo.InvariantCulture);

    private static async Task<IReadOnlyList<DockerPortMap>> ListMappingsAsync(string ns) =>
        (await ListAsync(ns)).Mappings.OrderBy(m => m.IsIPv6).ToList();

    /// <summary>Both tables, as two <c>nft -j list table</c> calls, parsed together.</summary>
    private static async Task<NftTableState> ListAsync(string ns)
    {
        var listings = new List<string>();
        foreach (var table in new[] { Renderer.Table, Renderer.StaticTable })
        {
            var result = await Runner.RunAsync(new CommandSpec("ip", ["netns", "exec", ns, "nft", "-j", "list", "table", "inet", table]), Ct);
            Assert.True(result.ExitCode == 0, result.StandardError);
            listings.Add(result.StandardOutput);
        }

        return NftListing.Parse(listings);
    }

    private static async Task<string> NftListRulesetAsync(string ns) =>
        (await Runner.RunAsync(new CommandSpec("ip", ["netns", "exec", ns, "nft", "-s", "list", "ruleset"]), Ct)).StandardOutput;

    private static Task<CommandResult> NftRunAsync(string ns, string script) =>
        Runner.RunAsync(new CommandSpec("ip", ["netns", "exec", ns, "nft", "-f", "-"], script), Ct);

    private static async Task NftAsync(string ns, string script)
    {
        var result = await NftRunAsync(ns, script);
        Assert.True(result.ExitCode == 0, $"nft -f - exited {result.ExitCode}: {result.StandardError}\n{script}");
    }

    /// <summary>nft lists map elements in hash order: sort them inside each <c>elements = { … }</c> block.</summary>
    private static string SortElements(string listing)
    {
        var lines = new List<string>();
        var source = listing.Split('\n');
        for (var i = 0; i < source.Length; i++)
        {
            var line = source[i];
            if (!line.TrimStart().StartsWith("elements = {", StringComparison.Ordinal))
            {
                lines.Add(line);
                continue;
            }

            var text = line.Trim();
            while (!text.EndsWith('}'))
            {
                text += " " + source[++i].Trim();
            }

            var items = text["elements = {".Length..^1].Split(',').Select(e => e.Trim()).Order(StringComparer.Ordinal);
            lines.Add("elements = { " + string.Join(", ", items) + " }");
        }

        return string.Join('\n', lines);
    }

    private static string UnitTestsDirectory => Path.Combine(
        typeof(NftKernelTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "ProjectDirectory").Value!,
        "..", "NatMap.Iptables.Tests");
}

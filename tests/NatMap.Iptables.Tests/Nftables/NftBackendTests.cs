using System.Net;
using NatMap.Iptables.Nftables;
using NatMap.Iptables.Testing;

namespace NatMap.Iptables.Tests.Nftables;

/// <summary>
/// The nftables backend through the public manager and the recording <see cref="FakeCommandRunner"/>: which processes
/// each operation runs (what it reads and what it does not), the transactions it writes, how it reads nft's answers
/// (<c>File exists</c>, <c>No such file or directory</c>), and what it undoes. The kernel tests prove the scripts on
/// the real kernel; these pin the orchestration.
/// </summary>
public sealed class NftBackendTests
{
    private const string Exists = "Error: Could not process rule: File exists\n";
    private const string NoTable = "Error: Could not process rule: No such file or directory\n";
    private static readonly NftRenderer Renderer = new();
    private static readonly NftPlanner Planner = new(Renderer);
    private static readonly DockerPortMap Web = new("web", IPEndPoint.Parse("0.0.0.0:8080"), IPEndPoint.Parse("172.17.0.2:80"));
    private static readonly DockerPortMap Dns = new("dns", IPEndPoint.Parse("10.0.0.1:53"), IPEndPoint.Parse("172.17.0.3:53"), TransportProtocol.Udp);
    private readonly FakeCommandRunner _fake = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private IptablesManager Manager(Action<NatMapOptions>? configure = null)
    {
        var options = new NatMapOptions { Backend = NatMapBackend.Nftables };
        configure?.Invoke(options);
        return new IptablesManager(_fake, options);
    }

    private static bool IsNftScript(CommandSpec c) => c.FileName == "nft" && c.Arguments is ["-f", "-"];

    private List<CommandSpec> Scripts() => [.. _fake.Processes.Where(IsNftScript)];

    [Fact]
    public async Task Setup_EmptyHost_WritesBothTablesInOneTransaction_ThenTurnsRouteLocalnetOnLast()
    {
        await Manager().SetupAsync(Ct);

        var processes = _fake.Processes.Select(p => p.ToString()).ToList();
        processes.Should().NotContain(p => p.Contains("iptables-restore", StringComparison.Ordinal), "a host whose iptables does not filter forwarding gets no iptables rule");
        Scripts().Should().ContainSingle().Which.StandardInput
            .Should().Be(Renderer.RenderFull(NftDesiredState.Empty with { RouteLocalnetOwned = true }), "the guard says Setup turned route_localnet on");
        processes[^1].Should().Be("sysctl -q -w net.ipv4.conf.all.route_localnet=1");
        processes.Should().Contain(["nft -j list table inet natmap", "nft -j list table inet natmap-static", "iptables-save -t filter", "ip6tables-save -t filter"]);
    }

    [Fact]
    public async Task Setup_WhereIptablesDropsForwarding_AddsTheOneAcceptToDockerUser()
    {
        _ = _fake.Script.OutputWhen(c => c.FileName == "iptables-save", "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n");

        await Manager().SetupAsync(Ct);

        var restore = _fake.Processes.Should().ContainSingle(p => p.FileName == "iptables-restore").Which;
        restore.StandardInput.Should().Contain("-N DOCKER-USER")
            .And.Contain("-I FORWARD -m comment --comment natmap:setup -j DOCKER-USER")
            .And.Contain("-I DOCKER-USER -m conntrack --ctstate DNAT -m connmark --mark 0x1000000/0x1000000 -m comment --comment natmap:nft -j ACCEPT");
        _fake.Processes.Should().NotContain(p => p.FileName == "ip6tables-restore", "ip6tables' FORWARD accepts");
    }

    [Fact]
    public async Task InstallDockerMap_IsOneTransaction_AndReadsNothing()
    {
        await Manager().InstallDockerMapAsync(Web, Ct);

        _fake.Processes.Should().ContainSingle().Which.Should().BeEquivalentTo(new CommandSpec("nft", ["-f", "-"], Planner.CreateMapping(Web)));
    }

    [Fact]
    public async Task ReadmeExample_TheInstallsTransactionIsTheProcesssStandardInput()
    {
        var fake = new FakeCommandRunner();
        var manager = new IptablesManager(fake, new NatMapOptions { Backend = NatMapBackend.Nftables });
        await manager.InstallDockerMapAsync(new DockerPortMap("web", IPEndPoint.Parse("0.0.0.0:8080"), IPEndPoint.Parse("172.17.0.2:80")), Ct);
        Assert.Equal("create element inet natmap unbound4 { tcp . 8080 comment \"web\" : 172.17.0.2 . 80 }\nflush chain inet natmap-static synced\n",
            fake.Processes.Single().StandardInput);
    }

    [Fact]
    public async Task FakeIptables_AnswersNftAsMissing_SoTheBackendFailsClearly()
    {
        var manager = new IptablesManager(new FakeIptables(), new NatMapOptions { Backend = NatMapBackend.Nftables });

        var setup = () => manager.SetupAsync(Ct);

        (await setup.Should().ThrowAsync<IptablesCommandException>()).Which.ExitCode.Should().Be(127);
    }

    [Fact]
    public async Task InstallDockerMap_KeyHeldByThisTarget_IsANoOp()
    {
        _ = _fake.Script.FailWhen(c => IsNftScript(c) && c.StandardInput!.StartsWith("create", StringComparison.Ordinal), 1, Exists);

        await Manager().InstallDockerMapAsync(Web, Ct);

        Scripts().Select(s => s.StandardInput).Should().Equal(Planner.CreateMapping(Web), Planner.InstallMapping(Web));
    }

    [Fact]
    public async Task InstallDockerMap_KeyHeldByAnotherTarget_SaysSo_AndChangesNothing()
    {
        _ = _fake.Script.FailWhen(IsNftScript, 1, Exists);

        var install = () => Manager().InstallDockerMapAsync(Web, Ct);

        (await install.Should().ThrowAsync<InvalidOperationException>()).WithMessage("tcp 0.0.0.0:8080 is already published to another container endpoint*");
        _fake.Processes.Should().HaveCount(2, "nothing took effect, so nothing is undone");
    }

    [Fact]
    public async Task InstallDockerMap_NoTables_SaysToRunSetup()
    {
        _ = _fake.Script.FailWhen(IsNftScript, 1, NoTable);

        var install = () => Manager().InstallDockerMapAsync(Web, Ct);

        (await install.Should().ThrowAsync<InvalidOperationException>()).WithMessage("*run SetupAsync first*");
    }

    [Fact]
    public async Task InstallDockerMap_ConntrackFails_RemovesTheElementItAdded()
    {
        _ = _fake.Script.FailWhen(c => c.FileName == "conntrack", 2, "conntrack: Operation not permitted\n");

        var install = () => Manager().InstallDockerMapAsync(Dns, Ct);

        await install.Should().ThrowAsync<IptablesCommandException>();
        Scripts().Select(s => s.StandardInput).Should().Equal(Planner.CreateMapping(Dns), Planner.RemoveMapping(Dns));
    }

    [Fact]
    public async Task InstallDockerMap_Udp_ResetsTheFlowsToItsHostAddressAndPort()
    {
        await Manager().InstallDockerMapAsync(Dns, Ct);

        _fake.Processes[^1].ToString().Should().Be("conntrack -D -f ipv4 -p udp --orig-dst 10.0.0.1 --orig-port-dst 53");
    }

    [Fact]
    public async Task RemoveDockerMap_FreeKey_IsOneProbeThatChangesNothing()
    {
        await Manager().RemoveDockerMapAsync(Web, Ct);

        Scripts().Should().ContainSingle().Which.StandardInput.Should().Be(Planner.ProbeFree(Web));
    }

    [Fact]
    public async Task RemoveDockerMap_HeldKey_DeletesTheElement_AndUndoesByAddingItBack()
    {
        _ = _fake.Script.FailWhen(c => IsNftScript(c) && c.StandardInput!.StartsWith("create", StringComparison.Ordinal), 1, Exists);
        _ = _fake.Script.FailWhen(c => c.FileName == "conntrack", 2, "conntrack: Operation not permitted\n");

        var remove = () => Manager().RemoveDockerMapAsync(Dns, Ct);

        await remove.Should().ThrowAsync<IptablesCommandException>();
        Scripts().Select(s => s.StandardInput).Should().Equal(Planner.ProbeFree(Dns), Planner.RemoveMapping(Dns), Planner.InstallMapping(Dns));
    }

    [Fact]
    public async Task RemoveDockerMap_KeyHeldByAnotherTarget_LeavesIt()
    {
        _ = _fake.Script.FailWhen(IsNftScript, 1, Exists);

        await Manager().RemoveDockerMapAsync(Dns, Ct);

        _fake.Processes.Should().HaveCount(2).And.NotContain(p => p.FileName == "conntrack");
    }

    [Fact]
    public async Task InstallDnat_ReadsTheStaticTableOnly_AndUndoesByWritingItBack()
    {
        var dnat = new DnatConfig(IPAddress.Parse("203.0.113.5"), IPAddress.Parse("10.0.0.2"), 80);
        _ = _fake.Script.OutputWhen(c => c.ToString() == "nft -j list table inet natmap-static", StaticListing());
        _ = _fake.Script.FailWhen(c => c.FileName == "conntrack", 2, "boom\n");

        var install = () => Manager(o => o.ConntrackReset = ConntrackReset.UdpAndTcp).InstallDnatAsync(dnat, Ct);

        await install.Should().ThrowAsync<IptablesCommandException>();
        _fake.Processes.Should().NotContain(p => p.ToString() == "nft -j list table inet natmap", "a static object never lists the map elements");
        Scripts().Select(s => s.StandardInput).Should().Equal(Renderer.RenderAddDnat(dnat), Renderer.RenderStaticFull(NftDesiredState.Empty));
    }

    [Fact]
    public async Task InvalidInput_ThrowsArgumentException_BeforeAnyCommand()
    {
        var manager = Manager();

        var sync = () => manager.SyncAsync(new NatMapState { Hairpins = [new HairpinConfig(IPAddress.Parse("203.0.113.5"), IPAddress.Parse("10.0.0.2"), 80, LanCidr: IPNetwork.Parse("0.0.0.0/0"))] }, Ct);

        await sync.Should().ThrowAsync<ArgumentException>();
        _fake.Processes.Should().BeEmpty();
    }

    [Fact]
    public void PrefixThatIsNoTableName_IsRejected_NamingCommentPrefix()
    {
        var create = () => Manager(o => o.CommentPrefix = "1natmap");

        create.Should().Throw<ArgumentException>().Which.ParamName.Should().Be(nameof(NatMapOptions.CommentPrefix));
        _ = new IptablesManager(_fake, new NatMapOptions { CommentPrefix = "1natmap" }); // fine for iptables
    }

    [Fact]
    public async Task FlushAll_NoTables_WritesNothing()
    {
        await Manager().FlushAllAsync(Ct);

        Scripts().Should().BeEmpty();
    }

    [Fact]
    public async Task Sync_NoTables_SetsUpWithTheDesiredState_InOneTransaction()
    {
        await Manager().SyncAsync(new NatMapState { DockerMaps = [Web] }, Ct);

        Scripts().Should().ContainSingle().Which.StandardInput
            .Should().Be(Renderer.RenderFull(NftDesiredState.Empty with { Mappings = [Web], RouteLocalnetOwned = true, Digest = NftRenderer.Digest([Web], true) }));
    }

    [Fact]
    public async Task Sync_ChainsWholeAndDigestMatching_NeverListsTheMaps_AndWritesNothing()
    {
        var digest = NftRenderer.Digest([Web], routeLocalnetOwned: true); // the fake's sysctl prints nothing: Setup would turn it on
        _ = _fake.Script.OutputWhen(c => c.ToString() == "nft -j list chains inet", ChainsListing());
        _ = _fake.Script.OutputWhen(c => c.ToString() == "nft -j list table inet natmap-static", StaticListing(digest));

        await Manager().SyncAsync(new NatMapState { DockerMaps = [Web] }, Ct);

        _fake.Processes.Should().NotContain(p => p.ToString() == "nft -j list table inet natmap", "the digest says the maps hold what is desired");
        Scripts().Should().BeEmpty();
    }

    [Fact]
    public async Task Sync_DigestOfAnotherState_ListsTheMaps()
    {
        _ = _fake.Script.OutputWhen(c => c.ToString() == "nft -j list chains inet", ChainsListing());
        _ = _fake.Script.OutputWhen(c => c.ToString() == "nft -j list table inet natmap-static", StaticListing(NftRenderer.Digest([Dns], routeLocalnetOwned: true)));

        await Manager().SyncAsync(new NatMapState { DockerMaps = [Web] }, Ct);

        _fake.Processes.Should().Contain(p => p.ToString() == "nft -j list table inet natmap");
    }

    /// <summary>Every fixed chain of both tables, as <c>nft -j list chains inet</c> prints them.</summary>
    private static string ChainsListing() =>
        "{\"nftables\": [" + string.Join(", ",
            new[] { ("natmap", "guard"), ("natmap", "prerouting"), ("natmap", "output"), ("natmap", "mappings"), ("natmap", "hairpin"), ("natmap", "postrouting"), ("natmap-static", "prerouting"), ("natmap-static", "postrouting"), ("natmap-static", "synced") }
                .Select(c => $"{{\"chain\": {{\"family\": \"inet\", \"table\": \"{c.Item1}\", \"name\": \"{c.Item2}\", \"handle\": 1}}}}")) + "]}";

    /// <summary>An empty static table with a digest rule, as nft 1.0.6 lists it.</summary>
    private static string StaticListing(string digest) =>
        StaticListing().TrimEnd()[..^2] +
        ", {\"chain\": {\"family\": \"inet\", \"table\": \"natmap-static\", \"name\": \"synced\", \"handle\": 3}}" +
        $", {{\"rule\": {{\"family\": \"inet\", \"table\": \"natmap-static\", \"chain\": \"synced\", \"handle\": 4, \"comment\": \"natmap:state:{digest}\", \"expr\": [{{\"return\": null}}]}}}}]}}";

    /// <summary>An empty static table as nft 1.0.6 lists it.</summary>
    private static string StaticListing() =>
        """
        {"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "inet", "name": "natmap-static", "handle": 2}}, {"chain": {"family": "inet", "table": "natmap-static", "name": "prerouting", "handle": 1, "type": "nat", "hook": "prerouting", "prio": -99, "policy": "accept"}}, {"chain": {"family": "inet", "table": "natmap-static", "name": "postrouting", "handle": 2, "type": "nat", "hook": "postrouting", "prio": 101, "policy": "accept"}}]}
        """;
}

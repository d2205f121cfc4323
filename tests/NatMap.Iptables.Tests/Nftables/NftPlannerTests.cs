using System.Net;
using NatMap.Iptables.Nftables;
using static NatMap.Iptables.Tests.TestData;

namespace NatMap.Iptables.Tests.Nftables;

/// <summary>The nftables backend's plans, from table states alone: no runner, no kernel.</summary>
public sealed class NftPlannerTests
{
    private static readonly NftRenderer Renderer = NftRenderer.Default;
    private static readonly NftPlanner Planner = new(Renderer);

    private static readonly DnatConfig Dnat = new(IPAddress.Parse("203.0.113.5"), IPAddress.Parse("10.0.0.2"), PortSet.Parse("443,80,81"));
    private static readonly DnatConfig DnatNormalized = Dnat with { Ports = PortSet.Parse("80-81,443") };
    private static readonly SnatConfig Snat = new(IPAddress.Parse("10.0.0.2"), IPAddress.Parse("203.0.113.5"), "eth0");
    private static readonly HairpinConfig Hairpin = new(IPAddress.Parse("203.0.113.5"), IPAddress.Parse("192.168.1.20"), PortSet.Parse("443,80"));

    private static NftTableState State(
        IReadOnlyList<DockerPortMap>? maps = null,
        IReadOnlyList<NftOwnedRule<DnatConfig>>? dnats = null,
        IReadOnlyList<NftOwnedRule<SnatConfig>>? snats = null,
        IReadOnlyList<NftOwnedHairpin>? hairpins = null,
        bool complete = true,
        bool ours = true) =>
        new(ours, complete, maps ?? [], dnats ?? [], snats ?? [], hairpins ?? [], []);

    private const string Forget = "flush chain inet natmap-static synced\n";

    private static string Digest(params DockerPortMap[] maps) => NftRenderer.Digest(maps, routeLocalnetOwned: false);

    private static string DeleteRule(string chain, long handle) => $"delete rule inet natmap-static {chain} handle {handle}\n";

    [Fact]
    public void Setup_NoTables_WritesBothTablesEmpty() =>
        Planner.Setup(null).Should().Be(Renderer.RenderFull(NftDesiredState.Empty));

    [Fact]
    public void Setup_TablesWhole_DoesNothing() =>
        Planner.Setup(State(maps: [Map()])).Should().BeEmpty();

    [Fact]
    public void Setup_TablesDamaged_RewritesThemKeepingWhatTheyHold()
    {
        var held = State(maps: [Map()], dnats: [new(DnatNormalized, NftSchema.PreroutingChain, 7)], complete: false);

        Planner.Setup(held).Should().Be(Renderer.RenderFull(NftDesiredState.Empty with { Mappings = [Map()], Dnats = [DnatNormalized] }));
    }

    [Fact]
    public void Setup_TableOfOurNameThatIsNotOurs_RefusesNamingIt() =>
        FluentActions.Invoking(() => Planner.Setup(State(ours: false))).Should().Throw<InvalidOperationException>().WithMessage("*inet natmap*not written by NatMap*");

    [Fact]
    public void InstallAndRemoveMapping_OneTransactionOfElementsAndNoRead()
    {
        // Every change of a mapping also forgets the digest of the last Sync, in the same transaction.
        Planner.InstallMapping(Map()).Should().Be("add element inet natmap unbound4 { tcp . 8080 comment \"web\" : 172.17.0.2 . 80 }\n" + Forget);
        Planner.RemoveMapping(Map("10.1.1.1:8080")).Should().Be(
            "add element inet natmap bound4 { 10.1.1.1 . tcp . 8080 comment \"web\" : 172.17.0.2 . 80 }\n" +
            "delete element inet natmap bound4 { 10.1.1.1 . tcp . 8080 }\n" + Forget);
    }

    public static TheoryData<string, int[], string> InstallDnatCases => new()
    {
        { "absent: added", [], Renderer.RenderAddDnat(DnatNormalized) },
        { "one copy: nothing", [5], string.Empty },
        { "three copies: the later two deleted", [5, 9, 12], DeleteRule("prerouting", 9) + DeleteRule("prerouting", 12) },
    };

    [Theory]
    [MemberData(nameof(InstallDnatCases))]
    public void InstallDnat_ConvergesToOneCopy(string because, int[] handles, string expected) =>
        Planner.InstallDnat(Dnat, State(dnats: [.. handles.Select(h => new NftOwnedRule<DnatConfig>(DnatNormalized, NftSchema.PreroutingChain, h))]))
            .Should().Be(expected, because);

    [Fact]
    public void RemoveStatic_DeletesEveryCopyAndNothingElse()
    {
        var other = DnatNormalized with { InternalIp = IPAddress.Parse("10.0.0.3") };
        var held = State(
            dnats: [new(DnatNormalized, "prerouting", 5), new(other, "prerouting", 6), new(DnatNormalized, "prerouting", 8)],
            snats: [new(Snat, "postrouting", 3)],
            hairpins: [new(Hairpin with { Ports = PortSet.Parse("80,443") }, 10, 11), new(Hairpin with { Ports = PortSet.Parse("80,443") }, 12, 13)]);

        Planner.RemoveDnat(Dnat, held).Should().Be(DeleteRule("prerouting", 5) + DeleteRule("prerouting", 8));
        Planner.RemoveSnat(Snat, held).Should().Be(DeleteRule("postrouting", 3));
        Planner.RemoveHairpin(Hairpin, held).Should().Be(
            DeleteRule("prerouting", 10) + DeleteRule("postrouting", 11) + DeleteRule("prerouting", 12) + DeleteRule("postrouting", 13));
        Planner.RemoveSnat(Snat with { ExternalInterface = "eth1" }, held).Should().BeEmpty("no such SNAT is held");
    }

    [Fact]
    public void StaticOperations_WithoutTables_SayToRunSetup() =>
        FluentActions.Invoking(() => Planner.InstallSnat(Snat, null!)).Should().Throw<InvalidOperationException>().WithMessage("*run SetupAsync first*");

    [Fact]
    public void Sync_DeletesWhatIsNotDesiredAndAddsWhatIsMissing_InOneScript()
    {
        var a = Map(id: "a");
        var b = Map("0.0.0.0:9090", id: "b");
        var c = Map("0.0.0.0:7070", id: "c");
        var held = State(maps: [a, b], dnats: [new(DnatNormalized, "prerouting", 5), new(DnatNormalized, "prerouting", 6)], snats: [new(Snat, "postrouting", 7)]);

        var script = Planner.Sync(new NatMapState { DockerMaps = [b, c], Dnats = [Dnat], Hairpins = [Hairpin] }, held);

        script.Should().Be(
            Renderer.RenderDeleteMappings([a]) +
            Renderer.RenderAddMappings([c]) +
            DeleteRule("prerouting", 6) +               // the second copy of a desired DNAT
            DeleteRule("postrouting", 7) +              // the SNAT nobody wants
            Renderer.RenderAddHairpin(Hairpin) +
            Renderer.RenderDigest(Digest(b, c)));       // what the maps now hold
    }

    [Fact]
    public void Sync_KeyMovesToAnotherTarget_DeletedThenAddedInTheSameTransaction()
    {
        var before = Map(container: "172.17.0.2:80");
        var after = Map(container: "172.17.0.9:80");

        Planner.Sync(new NatMapState { DockerMaps = [after] }, State(maps: [before]))
            .Should().Be(Renderer.RenderDeleteMappings([before]) + Renderer.RenderAddMappings([after]) + Renderer.RenderDigest(Digest(after)));
    }

    [Fact]
    public void Sync_ToWhatIsHeld_IsEmpty()
    {
        var held = State(maps: [Map()], dnats: [new(DnatNormalized, "prerouting", 5)], hairpins: [new(Hairpin with { Ports = PortSet.Parse("80,443") }, 8, 9)]);

        Planner.Sync(new NatMapState { DockerMaps = [Map(), Map()], Dnats = [Dnat], Hairpins = [Hairpin] }, held)
            .Should().Be(Renderer.RenderDigest(Digest(Map())), "only the digest is new");
        Planner.Sync(new NatMapState { DockerMaps = [Map(), Map()], Dnats = [Dnat], Hairpins = [Hairpin] }, held with { Digest = Digest(Map()) })
            .Should().BeEmpty("the digest says the maps hold what is desired");
    }

    [Fact]
    public void Sync_DigestMatches_ComparesOnlyTheStaticObjects_AndNeverTheMaps()
    {
        // The listing's maps are stale (another mapping), but the digest is the desired one's: the maps are trusted.
        var held = State(maps: [Map(id: "stale")], snats: [new(Snat, "postrouting", 7)]) with { Digest = Digest(Map()) };

        Planner.Sync(new NatMapState { DockerMaps = [Map()] }, held).Should().Be("delete rule inet natmap-static postrouting handle 7\n");
        Planner.SyncStatic(new NatMapState { DockerMaps = [Map()], Snats = [Snat] }, held).Should().BeEmpty();
    }

    [Fact]
    public void Digest_DependsOnTheElementsAndTheGuard_NotOnOrderOrRepeats()
    {
        NftRenderer.Digest([Map(id: "a"), Map("0.0.0.0:9090", id: "b")], false).Should()
            .Be(NftRenderer.Digest([Map("0.0.0.0:9090", id: "b"), Map(id: "a"), Map(id: "a")], false))
            .And.MatchRegex("^[0-9a-f]{64}$")
            .And.NotBe(NftRenderer.Digest([Map(id: "a")], false))
            .And.NotBe(NftRenderer.Digest([Map(id: "a"), Map("0.0.0.0:9090", id: "b")], true))
            .And.NotBe(NftRenderer.Digest([Map(id: "a"), Map("0.0.0.0:9090", id: "c")], false), "the container id is part of the element");
    }

    [Fact]
    public void Sync_TwoMappingsOnOneKey_IsRejectedNamingTheField()
    {
        var act = () => Planner.Sync(new NatMapState { DockerMaps = [Map(id: "a"), Map(container: "172.17.0.3:80", id: "b")] }, State());

        act.Should().Throw<ArgumentException>().Which.ParamName.Should().Be("DockerMaps");
    }

    [Fact]
    public void Sync_BoundAndUnboundOnOnePort_AreDifferentKeys() =>
        Planner.Sync(new NatMapState { DockerMaps = [Map(), Map("10.1.1.1:8080", id: "b")] }, State())
            .Should().Be(Renderer.RenderAddMappings([Map(), Map("10.1.1.1:8080", id: "b")]) + Renderer.RenderDigest(Digest(Map(), Map("10.1.1.1:8080", id: "b"))));

    [Fact]
    public void Sync_DamagedTables_WritesExactlyTheDesiredStateInOneSwap() =>
        Planner.Sync(new NatMapState { DockerMaps = [Map()], Snats = [Snat] }, State(maps: [Map(id: "old")], complete: false))
            .Should().Be(Renderer.RenderFull(NftDesiredState.Empty with { Mappings = [Map()], Snats = [Snat], Digest = Digest(Map()) }));

    [Fact]
    public void Sync_NoTables_SetsUpWithTheDesiredState_AsSyncDoesWithIptables() =>
        Planner.Sync(new NatMapState { DockerMaps = [Map()] }, null)
            .Should().Be(Renderer.RenderFull(NftDesiredState.Empty with { Mappings = [Map()], Digest = Digest(Map()) }));

    [Fact]
    public void Sync_GuardMarkingToChange_WritesTheTablesAgainWithTheirObjects() =>
        Planner.Sync(new NatMapState { DockerMaps = [Map()] }, State(maps: [Map()]), ownsRouteLocalnet: true)
            .Should().Be(Renderer.RenderFull(NftDesiredState.Empty with { Mappings = [Map()], RouteLocalnetOwned = true, Digest = NftRenderer.Digest([Map()], true) }));

    [Fact]
    public void Setup_WholeTables_WritesNothing_UnlessTheGuardsMarkingChanges()
    {
        Planner.Setup(State(maps: [Map()])).Should().BeEmpty();
        Planner.Setup(State(maps: [Map()]), ownsRouteLocalnet: true)
            .Should().Be(Renderer.RenderFull(NftDesiredState.Empty with { Mappings = [Map()], RouteLocalnetOwned = true }));
    }

    [Fact]
    public void Restore_PutsTheTablesBackAsRead_OrDeletesThemWhenTheyWereAbsent()
    {
        Planner.Restore(null).Should().Be(Planner.FlushAll());
        Planner.Restore(State(maps: [Map()], snats: [new(Snat, NftSchema.PostroutingChain, 3)]) with { RouteLocalnetOwned = true })
            .Should().Be(Renderer.RenderFull(NftDesiredState.Empty with { Mappings = [Map()], Snats = [Snat], RouteLocalnetOwned = true }));
        Planner.RestoreStatic(State(maps: [Map()], snats: [new(Snat, NftSchema.PostroutingChain, 3)]))
            .Should().Be(Renderer.RenderStaticFull(NftDesiredState.Empty with { Snats = [Snat] })).And.NotContain("element");
    }

    [Fact]
    public void CreateAndProbe_UseCreate_WhichFailsOnAnyValueOfTheKey()
    {
        Planner.CreateMapping(Map()).Should().StartWith("create element inet natmap unbound4 { tcp . 8080 comment \"web\" : ").And.EndWith(Forget);
        Planner.ProbeFree(Map()).Should().Be(Renderer.RenderCreateMappings([Map()]) + "delete element inet natmap unbound4 { tcp . 8080 }\n", "a probe changes nothing, so it keeps the digest");
    }

    [Fact]
    public void FlushAll_DeletesBothTables_AndIsNoErrorWhenTheyAreGone() =>
        Planner.FlushAll().Should().Be(
            "add table inet natmap\nadd table inet natmap-static\ndelete table inet natmap\ndelete table inet natmap-static\n");

    [Fact]
    public void ToState_ListsTheOwnedObjects()
    {
        var state = NftPlanner.ToState(State(maps: [Map()], snats: [new(Snat, "postrouting", 3)], hairpins: [new(Hairpin, 1, 2)]));

        state.DockerMaps.Should().Equal(Map());
        state.Snats.Should().Equal(Snat);
        state.Hairpins.Should().Equal(Hairpin);
        state.Dnats.Should().BeEmpty();
        NftPlanner.ToState(null).DockerMaps.Should().BeEmpty();
    }
}

using System.Net;
using System.Net.Sockets;
using NatMap.Iptables.Internal;
using static NatMap.Iptables.Tests.Planning.PlanText;

namespace NatMap.Iptables.Tests.Planning;

public sealed class ObjectPlannerTests
{
    private const string C = "natmap:dnat:tcp:203.0.113.5:443:10.0.0.2";
    private const string NatRule = $"PREROUTING -d 203.0.113.5/32 -p tcp -m tcp --dport 443 -m comment --comment {C} -j DNAT --to-destination 10.0.0.2:443";
    private const string FilterRule = $"NATMAP -d 10.0.0.2/32 -p tcp -m tcp --dport 443 -m conntrack --ctstate DNAT --ctorigdst 203.0.113.5 -m comment --comment {C} -j ACCEPT";
    private const string Foreign = "PREROUTING -d 203.0.113.5/32 -p tcp -m tcp --dport 443 -j DNAT --to-destination 10.0.0.9";

    private static readonly DnatConfig Dnat = new(IPAddress.Parse("203.0.113.5"), IPAddress.Parse("10.0.0.2"), new PortSet(443));

    private static readonly ObjectPlanner Planner = new(Builder, Commands, new BucketPlanner(Builder));

    private static string Save(params string[] natRules) =>
        $"*nat\n:PREROUTING ACCEPT [0:0]\n:NATMAP - [0:0]\n{string.Concat(natRules.Select(static r => $"-A {r}\n"))}COMMIT\n*filter\n:FORWARD ACCEPT [0:0]\n:NATMAP - [0:0]\nCOMMIT\n";

    public static TheoryData<string, bool, string[], string[]> Cases => new()
    {
        // Nothing installed: install adds every rule as built.
        { "install on a bare host", true, [], [$"ipv4 nat -A {NatRule}", $"ipv4 filter -A {FilterRule}"] },

        // The nat rule is in place: only the missing filter rule is added; the listed one is left alone (idempotent).
        { "install, nat rule present", true, [NatRule], [$"ipv4 filter -A {FilterRule}"] },

        // Listed twice: the second copy goes (review item 3).
        { "install, nat rule twice", true, [NatRule, NatRule], [$"ipv4 nat -D {NatRule}", $"ipv4 filter -A {FilterRule}"] },

        // A rule carrying the comment that the object no longer builds goes.
        { "install, stale rule of the object", true, [$"PREROUTING -m comment --comment {C} -j ACCEPT"], [$"ipv4 nat -D PREROUTING -m comment --comment {C} -j ACCEPT", $"ipv4 nat -A {NatRule}", $"ipv4 filter -A {FilterRule}"] },

        // Removal: every copy of every rule carrying the comment goes; a foreign rule without it stays.
        { "remove, two copies and a foreign rule", false, [Foreign, NatRule, NatRule], [$"ipv4 nat -D {NatRule}", $"ipv4 nat -D {NatRule}"] },

        // Removal of what is not there: nothing.
        { "remove, nothing installed", false, [Foreign], [] },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Plan_FromListingsAlone_MakesTheObjectsRulesExactlyTheWanted(string name, bool install, string[] natRules, string[] expected)
    {
        var wanted = install ? Builder.BuildDnat(Dnat) : [];

        var plan = Planner.Plan(AddressFamily.InterNetwork, Tables(Save(natRules), "nat", "filter"), C, wanted);

        Lines(plan).Should().Equal(expected, name);
    }

    [Fact]
    public void Plan_CopiesDeleted_UndoPutsEachBackAtItsPosition()
    {
        var plan = Planner.Plan(AddressFamily.InterNetwork, Tables(Save(Foreign, NatRule, NatRule), "nat", "filter"), C, []);

        // Positions count every rule of the chain, the foreign one too; after the first delete the second copy is 2nd.
        var spec = NatRule["PREROUTING ".Length..];
        UndoLines(plan).Should().Equal($"ipv4 nat -I PREROUTING 2 {spec}", $"ipv4 nat -I PREROUTING 2 {spec}");
    }

    public static TheoryData<string, string?> SetupCases => new()
    {
        // The filter table lacks NATMAP: static DNAT's ACCEPT goes there, so the install stops and says so.
        { "*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n*filter\n:FORWARD ACCEPT [0:0]\nCOMMIT\n", "filter" },

        // Nothing listed at all (a runner that runs nothing): no judgement.
        { string.Empty, null },

        // Both tables hold the chain: nothing to say.
        { Save(), null },
    };

    [Theory]
    [MemberData(nameof(SetupCases))]
    public void RequireSetup_ChainMissingFromATableTheRulesNeed_Throws(string save, string? missingIn)
    {
        var planner = Planner;

        var act = () => planner.RequireSetup("InstallDnat", AddressFamily.InterNetwork, Builder.BuildDnat(Dnat), Tables(save, "nat", "filter"));

        if (missingIn is null)
        {
            act.Should().NotThrow();
        }
        else
        {
            act.Should().Throw<InvalidOperationException>().WithMessage($"InstallDnat needs the chain NATMAP in the {missingIn} table (iptables)*");
        }
    }

    [Fact]
    public void TablesNeedingChain_OnlyDockerMapsAndStaticDnat()
    {
        var map = new DockerPortMap("web", IPEndPoint.Parse("0.0.0.0:8080"), IPEndPoint.Parse("172.17.0.2:80"));
        var snat = new SnatConfig(IPAddress.Parse("10.0.0.2"), IPAddress.Parse("203.0.113.5"), "eth0");
        var hairpin = new HairpinConfig(IPAddress.Parse("203.0.113.5"), IPAddress.Parse("10.0.0.2"), new PortSet(80));

        ObjectPlanner.TablesNeedingChain(Builder.BuildDockerMap(map), Builder).Should().Equal(
            (AddressFamily.InterNetwork, "nat", "NATMAP"), (AddressFamily.InterNetwork, "filter", "NATMAP"), (AddressFamily.InterNetwork, "nat", "NATMAP-P"));
        ObjectPlanner.TablesNeedingChain(Builder.BuildDnat(Dnat), Builder).Should().Equal((AddressFamily.InterNetwork, "filter", "NATMAP"));
        ObjectPlanner.TablesNeedingChain(Builder.BuildSnat(snat), Builder).Should().BeEmpty();
        ObjectPlanner.TablesNeedingChain(Builder.BuildHairpin(hairpin), Builder).Should().BeEmpty();
    }
}

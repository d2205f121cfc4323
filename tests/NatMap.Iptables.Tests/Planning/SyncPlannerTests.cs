using System.Net;
using System.Net.Sockets;
using NatMap.Iptables.Internal;
using NatMap.Iptables.Rules;
using static NatMap.Iptables.Tests.Planning.PlanText;

namespace NatMap.Iptables.Tests.Planning;

public sealed class SyncPlannerTests
{
    private const string C = "natmap:dnat:tcp:203.0.113.5:443:10.0.0.2";
    private const string NatRule = $"PREROUTING -d 203.0.113.5/32 -p tcp -m tcp --dport 443 -m comment --comment {C} -j DNAT --to-destination 10.0.0.2:443";
    private const string FilterRule = $"NATMAP -d 10.0.0.2/32 -p tcp -m tcp --dport 443 -m conntrack --ctstate DNAT --ctorigdst 203.0.113.5 -m comment --comment {C} -j ACCEPT";
    private const string Stale = "PREROUTING -d 203.0.113.5/32 -p tcp -m tcp --dport 80 -m comment --comment natmap:dnat:tcp:203.0.113.5:80:10.0.0.3 -j DNAT --to-destination 10.0.0.3:80";

    private static readonly HostSettings Host = new(Commands, Builder, manages: true);

    private static readonly SyncPlanner Planner = new(Builder, new SetupPlanner(Builder, Host), new ObjectPlanner(Builder, Commands, new BucketPlanner(Builder)), new BucketPlanner(Builder));

    private static readonly IptablesRule[] Desired = [.. Builder.BuildDnat(new DnatConfig(IPAddress.Parse("203.0.113.5"), IPAddress.Parse("10.0.0.2"), new PortSet(443)))];

    private static string SetUpWith(string natRules, string filterRules) =>
        SetUpV4.ReplaceLineEndings("\n")
            .Replace("-j NATMAP-P\nCOMMIT", "-j NATMAP-P\n" + natRules + "COMMIT", StringComparison.Ordinal)
            .Replace("-j ACCEPT\nCOMMIT", "-j ACCEPT\n" + filterRules + "COMMIT", StringComparison.Ordinal);

    public static TheoryData<string, string, bool, string[]> Cases => new()
    {
        // Set up, nothing installed: the desired object's rules are added, Setup's rules left alone.
        { "set up, empty", SetUpWith("", ""), true, [$"ipv4 nat -A {NatRule}", $"ipv4 filter -A {FilterRule}"] },

        // In sync: nothing.
        { "in sync", SetUpWith($"-A {NatRule}\n", $"-A {FilterRule}\n"), true, [] },

        // An owned object no longer desired goes; a duplicate of a desired rule loses its extra copy; deletes come first.
        {
            "stale object and a duplicate", SetUpWith($"-A {Stale}\n-A {NatRule}\n-A {NatRule}\n", $"-A {FilterRule}\n"), true,
            [$"ipv4 nat -D {Stale}", $"ipv4 nat -D {NatRule}"]
        },

        // Nothing desired: every owned object goes, Setup's rules stay; deletes go table by table in the order read.
        { "nothing desired", SetUpWith($"-A {NatRule}\n", $"-A {FilterRule}\n"), false, [$"ipv4 filter -D {FilterRule}", $"ipv4 nat -D {NatRule}"] },

        // Setup missing: Setup's changes come first in the plan, then the objects'.
        {
            "bare host", EmptyV4, true,
            [.. Lines(new SetupPlanner(Builder, Host).Changes(AddressFamily.InterNetwork, Tables(EmptyV4.ReplaceLineEndings("\n"), "filter", "nat", "raw"), null)), $"ipv4 nat -A {NatRule}", $"ipv4 filter -A {FilterRule}"]
        },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Plan_FromListingsAlone_BringsTheHostToTheDesiredObjects(string name, string save, bool desired, string[] expected)
    {
        var reading = new SyncPlanner.FamilyReading(AddressFamily.InterNetwork, Tables(save.ReplaceLineEndings("\n"), "filter", "nat", "raw"), []);

        var plan = Planner.Plan([reading], desired ? Desired : [], [], routeLocalnet: null, Host);

        Lines(plan).Should().Equal(expected, name);
    }

    [Fact]
    public void Plan_RouteLocalnetOff_TurnsItOnLast()
    {
        var reading = new SyncPlanner.FamilyReading(AddressFamily.InterNetwork, Tables(EmptyV4.ReplaceLineEndings("\n"), "filter", "nat", "raw"), []);

        var plan = Planner.Plan([reading], Desired, [], routeLocalnet: "0", Host);

        Lines(plan)[^1].Should().Be("sysctl -q -w net.ipv4.conf.all.route_localnet=1");
        Lines(plan)[^2].Should().Be($"ipv4 filter -A {FilterRule}");
    }
}

using System.Net.Sockets;
using NatMap.Iptables.Internal;
using static NatMap.Iptables.Tests.Planning.PlanText;

namespace NatMap.Iptables.Tests.Planning;

public sealed class SetupPlannerTests
{
    private static readonly SetupPlanner Planner = new(Builder, new HostSettings(Commands, Builder, manages: true));

    public static TheoryData<string, string, string?, string[]> Cases => new()
    {
        // A bare host: every chain, jump, guard and the masquerade; route_localnet not managed, so not touched.
        {
            "bare host, route_localnet not managed", EmptyV4, null,
            [
                "ipv4 filter -N DOCKER-USER",
                "ipv4 filter -I FORWARD -m comment --comment natmap:setup -j DOCKER-USER",
                "ipv4 filter -N NATMAP",
                "ipv4 nat -N NATMAP",
                "ipv4 nat -N NATMAP-P",
                "ipv4 nat -A POSTROUTING -m conntrack --ctstate DNAT -m comment --comment natmap:setup -j NATMAP-P",
                "ipv4 filter -I NATMAP -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment natmap:setup -j ACCEPT",
                "ipv4 raw -I PREROUTING -d 127.0.0.0/8 ! -i lo -m comment --comment natmap:setup -j DROP",
                "ipv4 nat -I POSTROUTING -s 127.0.0.0/8 ! -o lo -m conntrack --ctstate DNAT -m comment --comment natmap:setup -j MASQUERADE",
                "ipv4 nat -I PREROUTING -m addrtype --dst-type LOCAL -m comment --comment natmap:setup -j NATMAP",
                "ipv4 nat -I OUTPUT -m addrtype --dst-type LOCAL -m comment --comment natmap:setup -j NATMAP",
                "ipv4 filter -I DOCKER-USER -m comment --comment natmap:setup -j NATMAP",
            ]
        },

        // Set up already: nothing, so a second Setup runs no write.
        { "set up, route_localnet not managed", SetUpV4, null, [] },

        // Set up and route_localnet already on: the unmarked guard stands, so nothing (the library did not turn it on).
        { "set up, route_localnet on", SetUpV4, "1", [] },

        // Set up, route_localnet off and managed: the marked guard goes in before the unmarked one goes (never
        // unguarded), and route_localnet goes on last.
        {
            "set up, route_localnet off", SetUpV4, "0",
            [
                "ipv4 raw -I PREROUTING -d 127.0.0.0/8 ! -i lo -m comment --comment natmap:setup:route_localnet -j DROP",
                "ipv4 raw -D PREROUTING -d 127.0.0.0/8 ! -i lo -m comment --comment natmap:setup -j DROP",
                "sysctl -q -w net.ipv4.conf.all.route_localnet=1",
            ]
        },

        // Docker's DOCKER-USER and FORWARD jump stand: the library makes neither.
        {
            "Docker present", EmptyV4.Replace(":FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT", ":FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:DOCKER-USER - [0:0]\n-A FORWARD -j DOCKER-USER\nCOMMIT", StringComparison.Ordinal), null,
            [
                "ipv4 filter -N NATMAP",
                "ipv4 nat -N NATMAP",
                "ipv4 nat -N NATMAP-P",
                "ipv4 nat -A POSTROUTING -m conntrack --ctstate DNAT -m comment --comment natmap:setup -j NATMAP-P",
                "ipv4 filter -I NATMAP -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment natmap:setup -j ACCEPT",
                "ipv4 raw -I PREROUTING -d 127.0.0.0/8 ! -i lo -m comment --comment natmap:setup -j DROP",
                "ipv4 nat -I POSTROUTING -s 127.0.0.0/8 ! -o lo -m conntrack --ctstate DNAT -m comment --comment natmap:setup -j MASQUERADE",
                "ipv4 nat -I PREROUTING -m addrtype --dst-type LOCAL -m comment --comment natmap:setup -j NATMAP",
                "ipv4 nat -I OUTPUT -m addrtype --dst-type LOCAL -m comment --comment natmap:setup -j NATMAP",
                "ipv4 filter -I DOCKER-USER -m comment --comment natmap:setup -j NATMAP",
            ]
        },

        // The hairpin root stands but its POSTROUTING jump went (another tool deleted it): the jump alone, appended.
        {
            "POSTROUTING jump gone", SetUpV4.Replace("-A POSTROUTING -m conntrack --ctstate DNAT -m comment --comment natmap:setup -j NATMAP-P\n", string.Empty, StringComparison.Ordinal), null,
            ["ipv4 nat -A POSTROUTING -m conntrack --ctstate DNAT -m comment --comment natmap:setup -j NATMAP-P"]
        },

        // A host set up before the hairpin root existed: the chain and its jump.
        {
            "no hairpin root", SetUpV4.Replace(":NATMAP-P - [0:0]\n", string.Empty, StringComparison.Ordinal).Replace("-A POSTROUTING -m conntrack --ctstate DNAT -m comment --comment natmap:setup -j NATMAP-P\n", string.Empty, StringComparison.Ordinal), null,
            [
                "ipv4 nat -N NATMAP-P",
                "ipv4 nat -A POSTROUTING -m conntrack --ctstate DNAT -m comment --comment natmap:setup -j NATMAP-P",
            ]
        },

        // route_localnet on, but no loopback guard at all (another tool flushed raw): the guard put back is marked, so
        // FlushAll is the one to turn the setting off.
        {
            "guard flushed, route_localnet on", SetUpV4.Replace("-A PREROUTING -d 127.0.0.0/8 ! -i lo -m comment --comment natmap:setup -j DROP\n", string.Empty, StringComparison.Ordinal), "1",
            ["ipv4 raw -I PREROUTING -d 127.0.0.0/8 ! -i lo -m comment --comment natmap:setup:route_localnet -j DROP"]
        },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Plan_FromListingsAlone_AddsOnlyWhatIsMissing(string name, string save, string? routeLocalnet, string[] expected)
    {
        var plan = Planner.Plan([(AddressFamily.InterNetwork, Tables(save.ReplaceLineEndings("\n"), "filter", "nat", "raw"))], routeLocalnet);

        Lines(plan).Should().Equal(expected, name);
    }

    [Fact]
    public void Plan_RouteLocalnetOff_UndoesTheGuardSwapInReverse()
    {
        var plan = Planner.Plan([(AddressFamily.InterNetwork, Tables(SetUpV4.ReplaceLineEndings("\n"), "filter", "nat", "raw"))], "0");

        UndoLines(plan).Should().Equal(
            "ipv4 raw -D PREROUTING -d 127.0.0.0/8 ! -i lo -m comment --comment natmap:setup:route_localnet -j DROP",
            "ipv4 raw -I PREROUTING 1 -d 127.0.0.0/8 ! -i lo -m comment --comment natmap:setup -j DROP");
        plan.OfType<HostChange>().Single().Undo!.ToString().Should().Be("sysctl -q -w net.ipv4.conf.all.route_localnet=0");
    }
}

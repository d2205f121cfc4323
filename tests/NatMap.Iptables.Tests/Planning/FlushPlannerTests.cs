using System.Net.Sockets;
using NatMap.Iptables.Internal;
using static NatMap.Iptables.Tests.Planning.PlanText;

namespace NatMap.Iptables.Tests.Planning;

public sealed class FlushPlannerTests
{
    private const string OurForwardJump = "-A FORWARD -m comment --comment natmap:setup -j DOCKER-USER";

    private static readonly FlushPlanner Planner = new(Builder);

    private static readonly string[] SetupRemoved =
    [
        "ipv4 raw -D PREROUTING -d 127.0.0.0/8 ! -i lo -m comment --comment natmap:setup -j DROP",
        "ipv4 nat -D PREROUTING -m addrtype --dst-type LOCAL -m comment --comment natmap:setup -j NATMAP",
        "ipv4 nat -D OUTPUT -m addrtype --dst-type LOCAL -m comment --comment natmap:setup -j NATMAP",
        "ipv4 nat -D POSTROUTING -s 127.0.0.0/8 ! -o lo -m conntrack --ctstate DNAT -m comment --comment natmap:setup -j MASQUERADE",
        "ipv4 nat -D POSTROUTING -m conntrack --ctstate DNAT -m comment --comment natmap:setup -j NATMAP-P",
        "ipv4 nat -X NATMAP",
        "ipv4 nat -X NATMAP-P",
        "ipv4 filter -D FORWARD -m comment --comment natmap:setup -j DOCKER-USER",
        "ipv4 filter -D DOCKER-USER -m comment --comment natmap:setup -j NATMAP",
        "ipv4 filter -D NATMAP -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment natmap:setup -j ACCEPT",
        "ipv4 filter -X NATMAP",
        "ipv4 filter -X DOCKER-USER",
    ];

    public static TheoryData<string, string, string[]> Cases => new()
    {
        // What Setup left goes, table by table (raw, nat, filter): jumps and guards first, then the chain's own rules,
        // then the emptied chains; DOCKER-USER too, because the library made it (its FORWARD jump is ours).
        { "set up without Docker", SetUpV4, SetupRemoved },

        // Docker's DOCKER-USER (its own FORWARD jump) stays, and so does that jump.
        {
            "set up with Docker", SetUpV4.Replace(OurForwardJump, "-A FORWARD -j DOCKER-USER", StringComparison.Ordinal),
            [.. SetupRemoved.Where(static l => !l.Contains("FORWARD", StringComparison.Ordinal) && !l.EndsWith("-X DOCKER-USER", StringComparison.Ordinal))]
        },

        // Another prefix's rules, and a prefix that only starts like ours, are not ours.
        {
            "foreign and look-alike comments", EmptyV4.Replace(":POSTROUTING ACCEPT [0:0]\n", ":POSTROUTING ACCEPT [0:0]\n-A PREROUTING -m comment --comment other:setup -j ACCEPT\n-A PREROUTING -m comment --comment natmap2:dnat:x -j ACCEPT\n", StringComparison.Ordinal),
            []
        },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Plan_FromListingsAlone_DeletesWhatTheLibraryMade(string name, string save, string[] expected)
    {
        var plan = Planner.Plan(AddressFamily.InterNetwork, Tables(save.ReplaceLineEndings("\n"), FlushPlanner.Tables));

        Lines(plan).Should().Equal(expected, name);
    }

    [Fact]
    public void Plan_EveryDeleteIsUndone_ChainsRemadeRulesPutBackInPlace()
    {
        var plan = Planner.Plan(AddressFamily.InterNetwork, Tables(SetUpV4.ReplaceLineEndings("\n"), FlushPlanner.Tables));

        UndoLines(plan).Should().Equal(
            "ipv4 raw -I PREROUTING 1 -d 127.0.0.0/8 ! -i lo -m comment --comment natmap:setup -j DROP",
            "ipv4 nat -I PREROUTING 1 -m addrtype --dst-type LOCAL -m comment --comment natmap:setup -j NATMAP",
            "ipv4 nat -I OUTPUT 1 -m addrtype --dst-type LOCAL -m comment --comment natmap:setup -j NATMAP",
            "ipv4 nat -I POSTROUTING 1 -s 127.0.0.0/8 ! -o lo -m conntrack --ctstate DNAT -m comment --comment natmap:setup -j MASQUERADE",
            "ipv4 nat -I POSTROUTING 1 -m conntrack --ctstate DNAT -m comment --comment natmap:setup -j NATMAP-P",
            "ipv4 nat -N NATMAP",
            "ipv4 nat -N NATMAP-P",
            "ipv4 filter -I FORWARD 1 -m comment --comment natmap:setup -j DOCKER-USER",
            "ipv4 filter -I DOCKER-USER 1 -m comment --comment natmap:setup -j NATMAP",
            "ipv4 filter -I NATMAP 1 -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment natmap:setup -j ACCEPT",
            "ipv4 filter -N NATMAP",
            "ipv4 filter -N DOCKER-USER");
    }

    private static string Guard(string comment) => $"-A PREROUTING -d 127.0.0.0/8 ! -i lo -m comment --comment {comment} -j DROP\n";

    public static TheoryData<string, bool, string[], string> RouteLocalnetCases => new()
    {
        // The marked guard says the library turned route_localnet on: off, whether or not host settings are managed.
        { "marked guard", false, ["natmap:setup:route_localnet"], nameof(HostSettings.FlushDecision.TurnOff) },

        // Only our unmarked guard, host settings managed: off if it is on, since no guard would remain.
        { "own guard, managed", true, ["natmap:setup"], nameof(HostSettings.FlushDecision.TurnOffIfOn) },

        // The same, host settings left alone: leave it.
        { "own guard, not managed", false, ["natmap:setup"], nameof(HostSettings.FlushDecision.Leave) },

        // Another prefix's guard remains after the flush: leave it on.
        { "own and another prefix's guard", true, ["natmap:setup", "other:setup"], nameof(HostSettings.FlushDecision.Leave) },

        // No guard of ours: nothing of ours to judge.
        { "no guard", true, [], nameof(HostSettings.FlushDecision.Leave) },
    };

    [Theory]
    [MemberData(nameof(RouteLocalnetCases))]
    public void OnFlush_FromTheRawTableAlone_DecidesRouteLocalnet(string name, bool manages, string[] guardComments, string expected)
    {
        var raw = $"*raw\n:PREROUTING ACCEPT [0:0]\n{string.Concat(guardComments.Select(Guard))}COMMIT\n";
        var host = new HostSettings(Commands, Builder, manages);

        host.OnFlush(Tables(raw, "raw")["raw"]).ToString().Should().Be(expected, name);
    }
}

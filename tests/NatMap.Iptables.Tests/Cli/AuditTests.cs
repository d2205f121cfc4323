using System.Net;
using NatMap.Cli;
using NatMap.Iptables.Testing;

namespace NatMap.Iptables.Tests.Cli;

/// <summary>natmap audit against FakeIptables as the host: the verdicts, the exposures (exit 3) and the unknowns.</summary>
public sealed class AuditTests
{
    private const string Addresses = """
        [{"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8}]},
         {"ifname":"eth0","addr_info":[{"family":"inet","local":"192.0.2.1","prefixlen":24},{"family":"inet","local":"192.0.2.11","prefixlen":24}]},
         {"ifname":"docker0","addr_info":[{"family":"inet","local":"172.17.0.1","prefixlen":16}]}]
        """;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<(int Code, string Out)> Run(FakeIptables host, string commandLine)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await CliApp.RunAsync(commandLine.Split(' '), output, error, host, showProgress: false, Ct);
        return (code, output.ToString() + error);
    }

    private static async Task<FakeIptables> Host()
    {
        var host = new FakeIptables()
            .AddAddress("eth0", IPAddress.Parse("192.0.2.1"), 24).AddAddress("eth0", IPAddress.Parse("192.0.2.11"), 24)
            .AddAddress("docker0", IPAddress.Parse("172.17.0.1"), 16);
        _ = host.Script
            .RespondTo(CommandMatch.ArgumentsContain("-j", "addr"), new CommandResult(0, Addresses, string.Empty))
            .RespondTo(CommandMatch.ArgumentsContain("-j", "-4", "route"), new CommandResult(0, """[{"dst":"default","gateway":"192.0.2.254","dev":"eth0"}]""", string.Empty))
            .RespondTo(CommandMatch.ArgumentsContain("-j", "-6", "route"), new CommandResult(0, "[]", string.Empty));
        _ = await host.RunAsync(new CommandSpec("iptables", ["-P", "FORWARD", "DROP"]), Ct);
        (await Run(host, "setup --no-ipv6 --apply")).Code.Should().Be(0);
        (await Run(host, "add docker --container web --host 0.0.0.0:8080 --target 172.17.0.2:80 --no-ipv6 --apply")).Code.Should().Be(0);
        (await Run(host, "add docker --container db --host 127.0.0.1:5432 --target 172.17.0.3:5432 --no-ipv6 --apply")).Code.Should().Be(0);
        (await Run(host, "add docker --container api --host 192.0.2.1:9000 --target 172.17.0.4:90 --no-ipv6 --apply")).Code.Should().Be(0);
        return host;
    }

    private static string Verdict(string table, string mapping, string path)
    {
        var lines = table.Split(Environment.NewLine);
        var start = Array.FindIndex(lines, l => l.StartsWith(mapping, StringComparison.Ordinal));
        start.Should().BeGreaterThanOrEqualTo(0, mapping);
        var line = lines.Skip(start + 1).TakeWhile(l => l.StartsWith(' ')).First(l => l.Contains(path, StringComparison.Ordinal));
        return line.Trim()[..15].Trim();
    }

    [Fact]
    public async Task Audit_GuardedHost_ReportsEachPathAndNoExposure()
    {
        var host = await Host();

        var (code, table) = await Run(host, "audit --no-ipv6");

        code.Should().Be(0, table);
        Verdict(table, "docker  tcp 0.0.0.0:8080", "-> 192.0.2.1:8080").Should().Be("reachable");
        Verdict(table, "docker  tcp 0.0.0.0:8080", "-> 192.0.2.11:8080").Should().Be("reachable");
        Verdict(table, "docker  tcp 0.0.0.0:8080", "-> 127.0.0.1:8080").Should().Be("not reachable", "the raw guard drops 127/8 from outside");
        Verdict(table, "docker  tcp 0.0.0.0:8080", "(routed straight").Should().Be("not reachable", "FORWARD accepts only translated traffic");
        Verdict(table, "docker  tcp 0.0.0.0:8080", "on docker0 -> 172.17.0.1:8080").Should().Be("reachable", "hairpin is masqueraded");
        Verdict(table, "docker  tcp 127.0.0.1:5432", "-> 192.0.2.1:5432").Should().Be("not reachable");
        Verdict(table, "docker  tcp 127.0.0.1:5432", "the host itself -> 127.0.0.1:5432").Should().Be("reachable");
        Verdict(table, "docker  tcp 192.0.2.1:9000", "-> 192.0.2.1:9000").Should().Be("reachable");
        Verdict(table, "docker  tcp 192.0.2.1:9000", "-> 192.0.2.11:9000").Should().Be("not reachable");
        table.Should().EndWith("# 3 mappings, 0 exposed paths, 0 unknown paths" + Environment.NewLine);
    }

    [Fact]
    public async Task Audit_GuardRemovedAndForeignAccept_ReportsTheExposuresAndExits3()
    {
        var host = await Host();
        _ = await host.RunAsync(new CommandSpec("iptables", ["-t", "raw", "-F", "PREROUTING"]), Ct);
        _ = await host.RunAsync(new CommandSpec("iptables", ["-I", "FORWARD", "-i", "eth0", "-j", "ACCEPT"]), Ct);

        var (code, table) = await Run(host, "audit --no-ipv6");

        code.Should().Be(3, table);
        Verdict(table, "docker  tcp 0.0.0.0:8080", "-> 127.0.0.1:8080").Should().Be("EXPOSED");
        Verdict(table, "docker  tcp 127.0.0.1:5432", "-> 127.0.0.1:5432").Should().Be("EXPOSED", "moby#45610: a loopback-bound port reached from the LAN");
        Verdict(table, "docker  tcp 0.0.0.0:8080", "(routed straight").Should().Be("EXPOSED");
        Verdict(table, "docker  tcp 0.0.0.0:8080", "-> 192.0.2.11:8080").Should().Be("reachable", "an unbound mapping may be reached on every address");
    }

    [Fact]
    public async Task Audit_ForeignRuleTheEmulatorCannotEvaluate_SaysUnknownNamingItNeverNotReachable()
    {
        var host = await Host();
        _ = await host.RunAsync(new CommandSpec("iptables", ["-I", "FORWARD", "-m", "mac", "--mac-source", "00:11:22:33:44:55", "-j", "ACCEPT"]), Ct);

        var (code, json) = await Run(host, "audit --no-ipv6 --json");

        code.Should().Be(0);
        using var document = System.Text.Json.JsonDocument.Parse(json);
        var paths = document.RootElement.GetProperty("mappings").EnumerateArray().SelectMany(m => m.GetProperty("paths").EnumerateArray()).ToList();
        var forwarded = paths.Where(p => p.GetProperty("kind").GetString() is "lan" or "direct" or "container").ToList();
        forwarded.Should().NotBeEmpty().And.OnlyContain(p => p.GetProperty("verdict").GetString() == "unknown" || p.GetProperty("reason").GetString()!.StartsWith("dropped: raw", StringComparison.Ordinal) || p.GetProperty("reason").GetString()!.Contains("untranslated", StringComparison.Ordinal));
        paths.Where(p => p.GetProperty("verdict").GetString() == "unknown")
            .Should().NotBeEmpty().And.OnlyContain(p => p.GetProperty("reason").GetString()!.Contains("--mac-source 00:11:22:33:44:55", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Audit_RuleInATableItDoesNotWalk_MakesEveryVerdictUnknown()
    {
        var host = await Host();
        _ = await host.RunAsync(new CommandSpec("iptables", ["-t", "mangle", "-A", "PREROUTING", "-j", "DROP"]), Ct);

        var (_, table) = await Run(host, "audit --no-ipv6");

        table.Should().Contain("mangle table (not traced): -A PREROUTING -j DROP").And.NotContain("  reachable").And.NotContain("not reachable");
    }
    /// <summary>
    /// What dockerd 20.10 (Debian's docker.io, <c>--userland-proxy=false</c>) wrote for IPv4 in the Docker-coexistence
    /// kernel test, with container c2 (10.124.0.20) on the user network "natmap" published as <c>-p 9090:80</c>: copied
    /// from that test's output, less natmap's own rules.
    /// </summary>
    private const string Docker2010Rules = """
        *filter
        :INPUT ACCEPT [0:0]
        :FORWARD DROP [0:0]
        :OUTPUT ACCEPT [0:0]
        :DOCKER - [0:0]
        :DOCKER-ISOLATION-STAGE-1 - [0:0]
        :DOCKER-ISOLATION-STAGE-2 - [0:0]
        :DOCKER-USER - [0:0]
        -A FORWARD -j DOCKER-USER
        -A FORWARD -j DOCKER-ISOLATION-STAGE-1
        -A FORWARD -o br-ce26d23c3780 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        -A FORWARD -o br-ce26d23c3780 -j DOCKER
        -A FORWARD -i br-ce26d23c3780 ! -o br-ce26d23c3780 -j ACCEPT
        -A FORWARD -i br-ce26d23c3780 -o br-ce26d23c3780 -j ACCEPT
        -A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        -A FORWARD -o docker0 -j DOCKER
        -A FORWARD -i docker0 ! -o docker0 -j ACCEPT
        -A FORWARD -i docker0 -o docker0 -j ACCEPT
        -A DOCKER -d 10.124.0.20/32 ! -i br-ce26d23c3780 -o br-ce26d23c3780 -p tcp -m tcp --dport 80 -j ACCEPT
        -A DOCKER-ISOLATION-STAGE-1 -i br-ce26d23c3780 ! -o br-ce26d23c3780 -j DOCKER-ISOLATION-STAGE-2
        -A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
        -A DOCKER-ISOLATION-STAGE-1 -j RETURN
        -A DOCKER-ISOLATION-STAGE-2 -o br-ce26d23c3780 -j DROP
        -A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP
        -A DOCKER-ISOLATION-STAGE-2 -j RETURN
        -A DOCKER-USER -j RETURN
        COMMIT
        *nat
        :PREROUTING ACCEPT [0:0]
        :INPUT ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        :DOCKER - [0:0]
        -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
        -A OUTPUT -m addrtype --dst-type LOCAL -j DOCKER
        -A POSTROUTING -o br-ce26d23c3780 -m addrtype --src-type LOCAL -j MASQUERADE
        -A POSTROUTING -s 10.124.0.0/24 ! -o br-ce26d23c3780 -j MASQUERADE
        -A POSTROUTING -o docker0 -m addrtype --src-type LOCAL -j MASQUERADE
        -A POSTROUTING -s 10.123.0.0/24 ! -o docker0 -j MASQUERADE
        -A POSTROUTING -s 10.124.0.20/32 -d 10.124.0.20/32 -p tcp -m tcp --dport 80 -j MASQUERADE
        -A DOCKER -p tcp -m tcp --dport 9090 -j DNAT --to-destination 10.124.0.20:80
        COMMIT

        """;

    private static async Task<FakeIptables> DockerHost()
    {
        const string Addresses = """
            [{"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8}]},
             {"ifname":"eth0","addr_info":[{"family":"inet","local":"10.97.0.1","prefixlen":24}]},
             {"ifname":"docker0","addr_info":[{"family":"inet","local":"10.123.0.1","prefixlen":24}]},
             {"ifname":"br-ce26d23c3780","addr_info":[{"family":"inet","local":"10.124.0.1","prefixlen":24}]}]
            """;
        var host = new FakeIptables()
            .AddAddress("eth0", IPAddress.Parse("10.97.0.1"), 24).AddAddress("docker0", IPAddress.Parse("10.123.0.1"), 24)
            .AddAddress("br-ce26d23c3780", IPAddress.Parse("10.124.0.1"), 24);
        _ = host.Script
            .RespondTo(CommandMatch.ArgumentsContain("-j", "addr"), new CommandResult(0, Addresses, string.Empty))
            .RespondTo(CommandMatch.ArgumentsContain("-j", "-4", "route"), new CommandResult(0, "[]", string.Empty));
        (await host.RunAsync(new CommandSpec("iptables-restore", [], Docker2010Rules), Ct)).IsSuccess.Should().BeTrue();
        (await Run(host, "setup --no-ipv6 --apply")).Code.Should().Be(0);
        (await Run(host, "add docker --container web --host 0.0.0.0:8080 --target 10.124.0.10:80 --no-ipv6 --apply")).Code.Should().Be(0);
        (await Run(host, "add docker --container pub --host 0.0.0.0:8081 --target 10.124.0.20:80 --no-ipv6 --apply")).Code.Should().Be(0);
        return host;
    }

    private static List<(string Mapping, string From, string To, string Verdict, bool Exposure, string? Reason)> Paths(string json)
    {
        using var document = System.Text.Json.JsonDocument.Parse(json);
        return document.RootElement.GetProperty("mappings").EnumerateArray()
            .SelectMany(m => m.GetProperty("paths").EnumerateArray().Select(p => (
                m.GetProperty("mapping").GetString()!, p.GetProperty("from").GetString()!, p.GetProperty("to").GetString()!, p.GetProperty("verdict").GetString()!,
                p.GetProperty("exposure").GetBoolean(), p.TryGetProperty("reason", out var reason) ? reason.GetString() : null)))
            .ToList();
    }

    [Fact]
    public async Task Audit_Docker2010Ruleset_EvaluatesEveryDockerRule_DockersOwnAcceptExposesItsContainer()
    {
        var host = await DockerHost();

        var (code, json) = await Run(host, "audit --no-ipv6 --json");

        code.Should().Be(3, json);
        var paths = Paths(json);
        paths.Should().NotContain(p => p.Verdict == "unknown", "addrtype, ! -i/-o, conntrack RELATED,ESTABLISHED, the isolation chains, DNAT and MASQUERADE are all evaluated");
        paths.Single(p => p.Mapping.Contains("(container pub)", StringComparison.Ordinal) && p.From == "10.97.0.2 on eth0" && p.To.StartsWith("10.124.0.20:80 ", StringComparison.Ordinal))
            .Exposure.Should().BeTrue("Docker 20.10's ACCEPT for its published container has no ctstate DNAT: direct routing reaches it");
        paths.Single(p => p.Mapping.Contains("(container web)", StringComparison.Ordinal) && p.From == "10.97.0.2 on eth0" && p.To.StartsWith("10.124.0.10:80 ", StringComparison.Ordinal))
            .Verdict.Should().Be("not reachable", "no rule of Docker's or natmap's admits direct routing to a container Docker did not publish");
        paths.Single(p => p.Mapping.Contains("(container pub)", StringComparison.Ordinal) && p.From == "10.123.0.2 on docker0" && p.To.StartsWith("10.124.0.20:80 ", StringComparison.Ordinal))
            .Reason.Should().Be("dropped: filter DOCKER-ISOLATION-STAGE-2: -A DOCKER-ISOLATION-STAGE-2 -o br-ce26d23c3780 -j DROP", "Docker isolates its networks from each other");
    }

    [Fact]
    public async Task Audit_Docker2010Ruleset_OperatorRuleWithAnUnevaluatedMatchInDockerUser_UnknownNamingIt_OnlyWhereAPacketMeetsTheMatch()
    {
        var host = await DockerHost();
        var before = Paths((await Run(host, "audit --no-ipv6 --json")).Out);

        // The shape Docker's documentation gives for restricting published ports to some sources.
        _ = await host.RunAsync(new CommandSpec("iptables", ["-I", "DOCKER-USER", "-i", "eth0", "-m", "iprange", "!", "--src-range", "10.97.0.2-10.97.0.3", "-j", "DROP"]), Ct);
        var after = Paths((await Run(host, "audit --no-ipv6 --json")).Out);

        after.Select(p => (p.Mapping, p.From, p.To)).Should().Equal(before.Select(p => (p.Mapping, p.From, p.To)));
        var changed = after.Zip(before).Where(pair => pair.First.Verdict != pair.Second.Verdict).ToList();
        changed.Should().NotBeEmpty().And.OnlyContain(pair => pair.First.Verdict == "unknown", "an unevaluated match gives unknown, never a guess");
        after.Where(p => p.Verdict == "unknown").Should().OnlyContain(p =>
            p.From == "10.97.0.2 on eth0" && p.Reason!.Contains("-m iprange ! --src-range 10.97.0.2-10.97.0.3", StringComparison.Ordinal),
            "only packets from eth0 get past the rule's -i eth0 to its iprange match");
        after.Where(p => p.From == "10.97.0.2 on eth0" && !p.To.StartsWith("127.", StringComparison.Ordinal) && p.Verdict != "unknown")
            .Should().OnlyContain(p => p.Reason == "delivered to the host itself, untranslated", "every eth0 packet that is forwarded meets the rule");
    }

    [Fact]
    public async Task Audit_DnatPortSet_TracesEveryPort_AForeignDropInsideARangeShowsOnItsPortsOnly()
    {
        var host = await Host();
        (await Run(host, "add dnat --external 192.0.2.11 --internal 172.17.0.5 --ports 2222,3000-3100 --no-ipv6 --apply")).Code.Should().Be(0);
        _ = await host.RunAsync(new CommandSpec("iptables", ["-I", "FORWARD", "-p", "tcp", "-m", "tcp", "--dport", "3050:3060", "-j", "DROP"]), Ct);

        var (code, table) = await Run(host, "audit --no-ipv6");

        code.Should().Be(0, table);
        const string Dnat = "dnat    tcp 192.0.2.11:2222,3000:3100 -> 172.17.0.5";
        Verdict(table, Dnat, "-> 192.0.2.11:2222").Should().Be("reachable", "the single port before the range");
        Verdict(table, Dnat, "-> 192.0.2.11:3000 (for 3000:3049: no rule tells these ports apart)").Should().Be("reachable");
        Verdict(table, Dnat, "-> 192.0.2.11:3050 (for 3050:3060: no rule tells these ports apart)").Should().Be("not reachable", "the foreign DROP covers 3050 to 3060");
        Verdict(table, Dnat, "-> 192.0.2.11:3061 (for 3061:3100: no rule tells these ports apart)").Should().Be("reachable");
        Verdict(table, Dnat, "-> 192.0.2.1:3050").Should().Be("not reachable", "the DNAT is bound to 192.0.2.11");
        Verdict(table, Dnat, "the host itself -> 192.0.2.11:3061").Should().Be("not reachable", "a static DNAT translates in PREROUTING only, not the host's own packets");
        var lines = table.Split(Environment.NewLine);
        var start = Array.FindIndex(lines, l => l.StartsWith(Dnat, StringComparison.Ordinal));
        var ports = lines.Skip(start + 1).TakeWhile(l => l.StartsWith(' ')).Where(l => l.Contains(" lan ", StringComparison.Ordinal) && l.Contains("-> 192.0.2.11:", StringComparison.Ordinal))
            .Select(l => l.Split("-> 192.0.2.11:")[1].Split(' ')[0]).ToList();
        ports.Should().Equal(["2222", "3000", "3050", "3061"], "one trace per run of ports no rule tells apart, and no more");
    }

    [Fact]
    public async Task Audit_DnatPortSet_EveryPortOfASmallSetIsTraced_AForeignDropOnTheLastOneShows()
    {
        var host = await Host();
        (await Run(host, "add dnat --external 192.0.2.11 --internal 172.17.0.5 --ports 80,443,8443 --no-ipv6 --apply")).Code.Should().Be(0);
        _ = await host.RunAsync(new CommandSpec("iptables", ["-I", "FORWARD", "-p", "tcp", "-m", "tcp", "--dport", "8443", "-j", "DROP"]), Ct);

        var (_, table) = await Run(host, "audit --no-ipv6");

        const string Dnat = "dnat    tcp 192.0.2.11:80,443,8443 -> 172.17.0.5";
        Verdict(table, Dnat, "-> 192.0.2.11:80").Should().Be("reachable");
        Verdict(table, Dnat, "-> 192.0.2.11:443").Should().Be("reachable");
        Verdict(table, Dnat, "-> 192.0.2.11:8443").Should().Be("not reachable", "the audit used to trace only the first port, 80");
    }

    public static TheoryData<string, string[], string[]> SegmentCases => new()
    {
        // No port match anywhere: the whole range is one segment, traced once.
        { "1000-65535", [], ["1000:65535"] },

        // The DNAT's own --dport 1000:65535 bounds the range where it already ends: still one segment.
        { "1000-65535", ["-A PREROUTING -d 192.0.2.11/32 -p tcp -m tcp --dport 1000:65535 -j DNAT --to-destination 172.17.0.5"], ["1000:65535"] },

        // A foreign match inside the range cuts it before its first port and after its last.
        { "3000-3100", ["-A FORWARD -p tcp -m tcp --dport 3050:3060 -j DROP"], ["3000:3049", "3050:3060", "3061:3100"] },

        // A single port, a multiport list and --ctorigdstport all cut; a match outside the range does not.
        { "10-20", ["-A FORWARD -p tcp -m multiport --dports 12,15:16,40 -m conntrack --ctorigdstport 19 -j ACCEPT"], ["10:11", "12", "13:14", "15:16", "17:18", "19", "20"] },

        // A bound on the range's first port cuts nothing; the last port gets its own segment from a match on it.
        { "10-20", ["-A FORWARD -p tcp -m tcp --dport 10 -j DROP", "-A FORWARD -p udp -m udp --dport 20 -j DROP"], ["10", "11:19", "20"] },

        // Open-ended ranges, as iptables accepts them; the source port does not cut.
        { "10-20", ["-A FORWARD -p tcp -m tcp --dport :14 -j DROP", "-A FORWARD -p tcp -m tcp --sport 17 -j DROP", "-A INPUT -p tcp -m tcp --dport 18: -j DROP"], ["10:14", "15:17", "18:20"] },

        // A set of single ports and a range: each single port is traced as itself.
        { "80,443,8000-8002", [], ["80", "443", "8000:8002"] },

        // Lines that are not rules, and values that are not ports, cut nothing.
        { "10-20", ["*filter", ":FORWARD DROP [0:0]", "-A FORWARD -m comment --comment \"--dport x\" -j ACCEPT"], ["10:20"] },
    };

    [Theory]
    [MemberData(nameof(SegmentCases))]
    public void Segments_CutEachRangeWhereSomeRulesPortMatchStartsOrStops(string ports, string[] rules, string[] expected)
    {
        var segments = AuditPorts.Segments(PortSet.Parse(ports), AuditPorts.Bounds([string.Join('\n', rules)]));

        segments.Select(static s => s.ToString()).Should().Equal(expected);
    }
}

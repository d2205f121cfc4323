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
            .AddAddress("docker0", IPAddress.Parse("172.17.0.1"), 16)
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
}

using NatMap.Cli;
using NatMap.Iptables.Testing;

namespace NatMap.Iptables.Tests.Cli;

public sealed class CliAppTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<(int Code, string Out, string Err)> Run(string commandLine, ICommandRunner? apply = null)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await CliApp.RunAsync(commandLine.Split(' ', StringSplitOptions.RemoveEmptyEntries), output, error, apply, Ct);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task PlanDocker_DryRun_PrintsTheExactCommands()
    {
        var (code, output, error) = await Run("plan docker --container web --host 0.0.0.0:8080 --target 172.17.0.2:80");

        code.Should().Be(0);
        error.Should().StartWith("# dry run");
        const string c = "natmap:docker:web:tcp:0.0.0.0:8080:172.17.0.2:80";
        output.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries).Should().Equal(
            "ip -o -4 route show match 172.17.0.2",
            "iptables-save",
            "iptables-restore --noflush -w 10 <<'EOF'",
            "*nat",
            $"-A NATMAP -p tcp -m tcp --dport 8080 -m comment --comment {c} -j DNAT --to-destination 172.17.0.2:80",
            $"-A POSTROUTING -s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m conntrack ! --ctorigdst 172.17.0.2 -m comment --comment {c} -j MASQUERADE",
            "COMMIT",
            "*filter",
            $"-A NATMAP -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT --ctorigdstport 8080 -m comment --comment {c} -j ACCEPT",
            "COMMIT",
            "EOF");
    }

    [Fact]
    public async Task PlanDocker_PerRule_PrintsOneCommandPerRule()
    {
        var (code, output, _) = await Run("plan docker --container web --host 0.0.0.0:8080 --target 172.17.0.2:80 --per-rule");

        code.Should().Be(0);
        output.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries).Should().Equal(
            "ip -o -4 route show match 172.17.0.2",
            "iptables -w 10 -t nat -S",
            "iptables -w 10 -t filter -S",
            "iptables -w 10 -t nat -A NATMAP -p tcp -m tcp --dport 8080 -m comment --comment natmap:docker:web:tcp:0.0.0.0:8080:172.17.0.2:80 -j DNAT --to-destination 172.17.0.2:80",
            "iptables -w 10 -t nat -A POSTROUTING -s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m conntrack ! --ctorigdst 172.17.0.2 -m comment --comment natmap:docker:web:tcp:0.0.0.0:8080:172.17.0.2:80 -j MASQUERADE",
            "iptables -w 10 -t filter -A NATMAP -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT --ctorigdstport 8080 -m comment --comment natmap:docker:web:tcp:0.0.0.0:8080:172.17.0.2:80 -j ACCEPT");
    }

    [Fact]
    public async Task PlanDocker_Apply_RunsTheSameCommandsThroughTheRunner()
    {
        var fake = new FakeCommandRunner();
        var dry = await Run("plan docker --container web --host [::]:8080 --target [fd00::2]:80 --udp --remove");

        var (code, output, _) = await Run("plan docker --container web --host [::]:8080 --target [fd00::2]:80 --udp --remove --apply", fake);

        code.Should().Be(0);
        output.Should().BeEmpty();
        var printed = dry.Out.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        printed[1].Should().Be("ip6tables-restore --noflush -w 10 <<'EOF'");
        printed[^1].Should().Be("conntrack -D -f ipv6 -p udp --orig-port-dst 8080", "a removed UDP mapping's tracked flows are deleted after the rules");
        fake.Processes.Select(c => c.ToString()).Should().Equal(printed[0], "ip6tables-restore --noflush -w 10 <<< (" + fake.Processes[1].StandardInput!.Length + " characters)", printed[^1]);
        fake.Processes[1].StandardInput!.Split('\n', StringSplitOptions.RemoveEmptyEntries).Should().Equal(printed[2..^2]);
        fake.Commands.Skip(1).SkipLast(1).Should().OnlyContain(c => c.FileName == "ip6tables" && c.Arguments.Contains("-D"));
    }

    [Theory]
    [InlineData("plan setup --no-ipv6 --netns lab1 --iptables iptables-legacy --per-rule", "ip netns exec lab1 iptables-legacy -w 10 -t filter -N DOCKER-USER")]
    [InlineData("plan setup --no-ipv6 --netns lab1 --iptables iptables-legacy", "ip netns exec lab1 iptables-legacy-restore --noflush -w 10 <<'EOF'")]
    [InlineData("plan flush --chain EDGE", "ip6tables-save")]
    [InlineData("plan flush --chain EDGE --per-rule", "ip6tables -w 10 -t filter -S")]
    [InlineData("plan dnat --external 203.0.113.5 --internal 10.0.0.2 --ports 80,443 --in-interface eth0", "-A PREROUTING -d 203.0.113.5/32 -i eth0 -p tcp -m multiport --dports 80,443 -m comment --comment natmap:dnat:tcp:203.0.113.5:80,443:10.0.0.2:if=eth0 -j DNAT --to-destination 10.0.0.2")]
    [InlineData("plan dnat --external 203.0.113.5 --internal 10.0.0.2 --ports 2222 --internal-port 22", "-A FORWARD -d 10.0.0.2/32 -p tcp -m tcp --dport 22 -m conntrack --ctstate DNAT --ctorigdst 203.0.113.5 -m comment --comment natmap:dnat:tcp:203.0.113.5:2222:10.0.0.2:22 -j ACCEPT")]
    [InlineData("plan snat --internal 10.0.0.2 --external 203.0.113.5 --out-interface eth0", "-A POSTROUTING -s 10.0.0.2/32 -o eth0 -m comment --comment natmap:snat:10.0.0.2:203.0.113.5:eth0 -j SNAT --to-source 203.0.113.5")]
    [InlineData("plan hairpin --external 203.0.113.5 --internal 192.168.1.20 --ports 80 --lan 192.168.1.0/24 --udp", "-A POSTROUTING -s 192.168.1.0/24 -d 192.168.1.20/32 -p udp -m udp --dport 80 -m comment --comment natmap:hairpin:udp:203.0.113.5:80:192.168.1.20:lan=192.168.1.0/24 -j MASQUERADE")]
    public async Task Plan_EachKind_PrintsItsCommands(string commandLine, string expectedLine)
    {
        var (code, output, _) = await Run(commandLine);

        code.Should().Be(0);
        output.Split(Environment.NewLine).Should().Contain(expectedLine);
    }

    [Theory]
    [InlineData("plan docker --container we\"b --host 0.0.0.0:8080 --target 172.17.0.2:80", "ContainerId")]
    [InlineData("plan docker --container web --host 0.0.0.0:0 --target 172.17.0.2:80", "HostEndpoint")]
    [InlineData("plan docker --container web --host 0.0.0.0:80 --target [fd00::2]:80", "ContainerEndpoint")]
    [InlineData("plan docker --container web --host nonsense --target 172.17.0.2:80", "--host must be ADDRESS:PORT")]
    [InlineData("plan docker --host 0.0.0.0:80 --target 172.17.0.2:80", "Missing --container")]
    [InlineData("plan docker --container web --host 0.0.0.0:80 --target 172.17.0.2:80 --lan 10.0.0.0/8", "Unknown option --lan")]
    [InlineData("plan dnat --external 203.0.113.5 --internal 10.0.0.2 --ports 1-99999", "is not a port")]
    [InlineData("plan teleport", "Unknown kind 'teleport'")]
    [InlineData("apply docker", "Expected 'plan <kind>'")]
    [InlineData("plan setup --chain", "Option --chain needs a value")]
    [InlineData("plan setup --chain PREROUTING", "ChainName")]
    public async Task Plan_InvalidRequest_Exits2WithAClearMessageAndRunsNothing(string commandLine, string message)
    {
        var fake = new FakeCommandRunner();

        var (code, output, error) = await Run(commandLine + " --apply", fake);

        code.Should().Be(2);
        output.Should().BeEmpty();
        error.Should().Contain(message);
        fake.Commands.Should().BeEmpty();
    }

    [Fact]
    public async Task Apply_CommandFails_Exits1WithTheCommandAndStderr()
    {
        var fake = new FakeCommandRunner().FailWhen(CommandMatch.Any, 4, "Another app is currently holding the xtables lock.");

        var (code, _, error) = await Run("plan setup --apply", fake);

        code.Should().Be(1);
        error.Should().Contain("exited with code 4").And.Contain("Command: sysctl -n net.ipv4.conf.all.route_localnet").And.Contain("xtables lock");
    }

    [Fact]
    public async Task Help_And_NoArguments()
    {
        (await Run("--help")).Should().Match<(int Code, string Out, string Err)>(r => r.Code == 0 && r.Out.Contains("Usage: natmap plan", StringComparison.Ordinal));
        (await Run("")).Code.Should().Be(2);
        (await Run("--version")).Out.Should().StartWith("0.1.0");
    }
}

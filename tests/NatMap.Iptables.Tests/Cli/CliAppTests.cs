using System.Net;
using System.Net.Sockets;
using NatMap.Cli;
using NatMap.Iptables.Testing;

namespace NatMap.Iptables.Tests.Cli;

/// <summary>
/// The natmap command line against FakeIptables standing in for the host: the same runner serves the dry run's reads
/// and --apply's changes, so each test can check that a dry run changed nothing and an apply changed what it printed.
/// </summary>
public sealed class CliAppTests : IDisposable
{
    private const string Web = "natmap:docker:web:tcp:0.0.0.0:8080:172.17.0.2:80";
    private readonly string _directory = Directory.CreateTempSubdirectory("natmap-cli-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static async Task<(int Code, string Out, string Err)> Run(FakeIptables host, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await CliApp.RunAsync(args, output, error, host, showProgress: false, Ct);
        return (code, output.ToString(), error.ToString());
    }

    private static Task<(int Code, string Out, string Err)> Run(FakeIptables host, string commandLine) =>
        Run(host, commandLine.Split(' ', StringSplitOptions.RemoveEmptyEntries));

    private static async Task<FakeIptables> SetUpHost()
    {
        var host = new FakeIptables().AddAddress("eth0", IPAddress.Parse("192.0.2.1"), 24).AddAddress("docker0", IPAddress.Parse("172.17.0.1"), 16);
        (await Run(host, "setup --apply")).Code.Should().Be(0);
        host.Clear();
        return host;
    }

    private static string Snapshot(FakeIptables host) => host.Save() + host.Save(AddressFamily.InterNetworkV6) + host.GetSysctl("net.ipv4.conf.all.route_localnet");

    private static bool Changes(CommandSpec command) => !DryRunCommandRunner.IsRead(command);

    private string File(string name, string text)
    {
        var path = Path.Combine(_directory, name);
        System.IO.File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public async Task Sync_DryRunOnAMachineWithoutIptables_PrintsTheCommandsForAnEmptyHost()
    {
        // The README's first command, on a fresh machine: no iptables to read, so the plan is made for an empty host.
        var runner = new FakeCommandRunner();
        _ = runner.Script.RespondUsing(
            c => DryRunCommandRunner.IsRead(c) && c.FileName != "ip",
            c => throw new System.ComponentModel.Win32Exception(2, $"An error occurred trying to start process '{c.FileName}'"));
        var path = File("state.json", """{ "dockerMaps": [ { "containerId": "web", "hostEndpoint": "0.0.0.0:8080", "containerEndpoint": "172.17.0.2:80" } ] }""");
        using var output = new StringWriter();
        using var error = new StringWriter();

        var code = await CliApp.RunAsync(["sync", "--file", path], output, error, runner, showProgress: false, Ct);

        code.Should().Be(0, error.ToString());
        error.ToString().Should().Contain("could not read the host").And.Contain("nothing is installed yet");
        output.ToString().Should().Contain("iptables-restore --noflush").And.Contain("-j DNAT --to-destination 172.17.0.2:80");
        runner.Processes.Should().OnlyContain(c => DryRunCommandRunner.IsRead(c), "a dry run runs nothing but reads");
    }

    [Fact]
    public async Task AddDocker_DryRun_ReadsTheHostPrintsTheExactCommandsAndChangesNothing()
    {
        var host = await SetUpHost();
        var before = Snapshot(host);

        var (code, output, error) = await Run(host, "add docker --container web --host 0.0.0.0:8080 --target 172.17.0.2:80");

        code.Should().Be(0);
        error.Should().StartWith("# dry run");
        output.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries).Should().Equal(
            "iptables-restore --noflush -w 10 <<'EOF'",
            "*filter",
            "-N NATMAP-T3",
            "-A NATMAP -p tcp -m conntrack --ctorigdstport 6144:8191 -m comment --comment natmap:setup:bucket -j NATMAP-T3",
            "-N NATMAP-T3-30",
            "-A NATMAP-T3 -p tcp -m conntrack --ctorigdstport 8064:8127 -m comment --comment natmap:setup:bucket -j NATMAP-T3-30",
            $"-A NATMAP-T3-30 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT --ctorigdstport 8080 -m comment --comment {Web} -j ACCEPT",
            "COMMIT",
            "*nat",
            "-N NATMAP-T3",
            "-A NATMAP -p tcp -m tcp --dport 6144:8191 -m comment --comment natmap:setup:bucket -j NATMAP-T3",
            "-N NATMAP-T3-30",
            "-A NATMAP-T3 -p tcp -m tcp --dport 8064:8127 -m comment --comment natmap:setup:bucket -j NATMAP-T3-30",
            "-N NATMAP-PT3",
            "-A NATMAP-P -p tcp -m conntrack --ctorigdstport 6144:8191 -m comment --comment natmap:setup:bucket -j NATMAP-PT3",
            "-N NATMAP-PT3-30",
            "-A NATMAP-PT3 -p tcp -m conntrack --ctorigdstport 8064:8127 -m comment --comment natmap:setup:bucket -j NATMAP-PT3-30",
            $"-A NATMAP-T3-30 -p tcp -m tcp --dport 8080 -m comment --comment {Web} -j DNAT --to-destination 172.17.0.2:80",
            $"-A NATMAP-PT3-30 -s 172.17.0.0/16 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m conntrack ! --ctorigdst 172.17.0.2 -m comment --comment {Web} -j MASQUERADE",
            "COMMIT",
            "EOF");
        Snapshot(host).Should().Be(before);
        host.Processes.Should().NotBeEmpty().And.OnlyContain(c => DryRunCommandRunner.IsRead(c), "a dry run only reads the host");
    }

    [Fact]
    public async Task AddDocker_Apply_InstallsWhatTheDryRunPrinted()
    {
        var host = await SetUpHost();

        var (code, output, _) = await Run(host, "add docker --container web --host 0.0.0.0:8080 --target 172.17.0.2:80 --apply");

        code.Should().Be(0);
        output.Should().BeEmpty();
        host.Save().Should().Contain(Web).And.Contain("-j DNAT --to-destination 172.17.0.2:80");
    }

    [Theory]
    [InlineData("add docker --container web --host 0.0.0.0:8080 --target 172.17.0.2:80", "IPv4 nat table has no NATMAP chain")]
    // Static DNAT's only rule in the library's chain is its filter ACCEPT, so that is the table it needs.
    [InlineData("add dnat --external 2001:db8::5 --internal fd00::2 --ports 443 --apply", "IPv6 filter table has no NATMAP chain")]
    [InlineData("add docker --container web --host 0.0.0.0:8080 --target 172.17.0.2:80 --chain EDGE --netns lab1 --apply", "no EDGE chain. Run 'natmap setup --apply --netns lab1' first.")]
    public async Task Add_SetupNeverRan_SaysSoAndChangesNothing(string commandLine, string message)
    {
        var host = new FakeIptables();

        var (code, output, error) = await Run(host, commandLine);

        code.Should().Be(1);
        output.Should().BeEmpty();
        error.Should().Contain("natmap is not set up on this host").And.Contain(message).And.Contain("natmap setup --apply");
        host.Processes.Should().OnlyContain(c => DryRunCommandRunner.IsRead(c));
    }

    [Theory]
    // Hairpin and SNAT rules go to the built-in chains only: like the library, the CLI does not ask for Setup.
    [InlineData("add hairpin --external 203.0.113.5 --internal 10.0.0.2 --ports 80 --apply", "-j DNAT --to-destination 10.0.0.2")]
    [InlineData("add snat --internal 10.0.0.2 --external 203.0.113.5 --out-interface eth0 --apply", "-j SNAT --to-source 203.0.113.5")]
    public async Task Add_BuiltInChainsOnly_InstallsWithoutSetup(string commandLine, string rule)
    {
        var host = new FakeIptables();

        var (code, _, error) = await Run(host, commandLine);

        code.Should().Be(0, error);
        host.Save().Should().Contain(rule);
    }

    [Fact]
    public async Task Setup_DryRunThenApply_PrintsThenInstalls()
    {
        var host = new FakeIptables();

        var dry = await Run(host, "setup --no-ipv6");
        Snapshot(host).Should().NotContain("NATMAP");
        var applied = await Run(host, "setup --no-ipv6 --apply");

        dry.Code.Should().Be(0);
        dry.Out.Should().Contain("-N NATMAP").And.Contain("sysctl -q -w net.ipv4.conf.all.route_localnet=1");
        applied.Code.Should().Be(0);
        host.Save().Should().Contain(":NATMAP -");
        host.Save(AddressFamily.InterNetworkV6).Should().BeEmpty("--no-ipv6 leaves ip6tables alone");
    }

    [Fact]
    public async Task Flush_DryRunPrintsTheRemovals_ApplyRemovesEverything()
    {
        var host = await SetUpHost();
        (await Run(host, "add dnat --external 192.0.2.1 --internal 10.0.0.2 --ports 80,443 --apply")).Code.Should().Be(0);

        var dry = await Run(host, "flush");
        host.Save().Should().Contain("natmap:dnat");
        var applied = await Run(host, "flush --apply");

        dry.Out.Should().Contain("natmap:dnat:tcp:192.0.2.1:80,443:10.0.0.2");
        applied.Code.Should().Be(0);
        host.Save().Should().NotContain("natmap");
    }

    [Fact]
    public async Task Remove_Apply_RemovesTheObject()
    {
        var host = await SetUpHost();
        (await Run(host, "add snat --internal 10.0.0.2 --external 192.0.2.1 --out-interface eth0 --apply")).Code.Should().Be(0);

        var (code, _, _) = await Run(host, "remove snat --internal 10.0.0.2 --external 192.0.2.1 --out-interface eth0 --apply");

        code.Should().Be(0);
        host.Save().Should().NotContain("natmap:snat");
    }

    [Fact]
    public async Task ListJson_ThenSyncThatFile_ChangesNothing()
    {
        var host = await SetUpHost();
        foreach (var line in new[]
        {
            "add docker --container web --host 0.0.0.0:8080 --target 172.17.0.2:80 --apply",
            "add docker --container db --host 127.0.0.1:5432 --target 172.17.0.3:5432 --udp --apply",
            "add dnat --external 192.0.2.1 --internal 10.0.0.2 --ports 2222 --internal-port 22 --in-interface eth0 --apply",
            "add hairpin --external 192.0.2.1 --internal 10.0.0.2 --ports 8000-8100 --lan 10.0.0.0/24 --apply",
            "add snat --internal 10.0.0.2 --external 192.0.2.1 --out-interface eth0 --apply",
        })
        {
            (await Run(host, line)).Code.Should().Be(0, line);
        }

        var list = await Run(host, "list --json");
        var file = File("state.json", list.Out);
        var before = Snapshot(host);
        host.Clear();

        var sync = await Run(host, "sync", "--file", file, "--apply", "--json");

        list.Code.Should().Be(0);
        var listed = NatMapStateJson.Parse(list.Out);
        (listed.DockerMaps.Count + listed.Dnats.Count + listed.Snats.Count + listed.Hairpins.Count).Should().Be(5);
        sync.Code.Should().Be(0);
        Snapshot(host).Should().Be(before);
        host.Processes.Should().OnlyContain(c => DryRunCommandRunner.IsRead(c), "an unchanged state runs no change");
        sync.Out.Should().Contain("\"unchanged\": 5");
    }

    [Fact]
    public async Task Sync_DryRun_PrintsTheDiffAndTheCommandsAndChangesNothing()
    {
        var host = await SetUpHost();
        (await Run(host, "add dnat --external 192.0.2.1 --internal 10.0.0.9 --ports 25 --apply")).Code.Should().Be(0);
        var file = File("s.json", """{ "dockerMaps": [ { "containerId": "web", "hostEndpoint": "0.0.0.0:8080", "containerEndpoint": "172.17.0.2:80" } ] }""");
        var before = Snapshot(host);

        var (code, output, _) = await Run(host, "sync", "--file", file);

        code.Should().Be(0);
        var lines = output.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        lines[..3].Should().Equal(
            "# sync: 1 to add, 1 to remove, 0 unchanged",
            "+ docker  tcp 0.0.0.0:8080 -> 172.17.0.2:80 (container web)",
            "- dnat    tcp 192.0.2.1:25 -> 10.0.0.9");
        lines.Should().Contain(l => l.Contains(Web, StringComparison.Ordinal) && l.StartsWith("-A NATMAP", StringComparison.Ordinal));
        lines.Should().Contain(l => l.StartsWith("-D PREROUTING", StringComparison.Ordinal) && l.Contains("natmap:dnat", StringComparison.Ordinal));
        Snapshot(host).Should().Be(before);
    }

    [Fact]
    public async Task SyncJson_ApplyAndDryRun_KeepStandardOutputOneJsonDocument()
    {
        var host = await SetUpHost();
        var file = File("s.json", """{ "dnats": [ { "externalIp": "192.0.2.1", "internalIp": "10.0.0.2", "ports": "80" } ] }""");

        var dry = await Run(host, "sync", "--file", file, "--json");
        var applied = await Run(host, "sync", "--file", file, "--json", "--apply");

        using var dryJson = System.Text.Json.JsonDocument.Parse(dry.Out);
        dryJson.RootElement.GetProperty("applied").GetBoolean().Should().BeFalse();
        NatMapStateJson.Parse(dryJson.RootElement.GetProperty("add").GetRawText()).Dnats.Should().ContainSingle();
        dry.Err.Should().Contain("iptables-restore", "under --json the commands go to standard error");
        using var appliedJson = System.Text.Json.JsonDocument.Parse(applied.Out);
        appliedJson.RootElement.GetProperty("applied").GetBoolean().Should().BeTrue();
        host.Save().Should().Contain("natmap:dnat:tcp:192.0.2.1:80:10.0.0.2");
    }

    [Fact]
    public async Task Sync_InvalidFile_Exits2WithThePathAndRunsNothing()
    {
        var host = await SetUpHost();
        var file = File("bad.json", """{ "dnats": [ { "externalIp": "192.0.2.1", "internalIp": "10.0.0.2", "ports": "80" }, { "externalIp": "192.0.2.1", "internalIp": "10.0.0.2", "ports": "0" } ] }""");

        var (code, output, error) = await Run(host, "sync", "--file", file, "--apply");

        code.Should().Be(2);
        output.Should().BeEmpty();
        error.Should().Contain("$.dnats[1].ports: '0' in '0' is not a port");
        host.Processes.Should().BeEmpty("a rejected file reaches nothing, not even a read");
    }

    [Theory]
    [InlineData("add docker --container web --host 1.2.3:80 --target 172.17.0.2:80", "--host: '1.2.3:80' is not an endpoint")]
    [InlineData("add docker --container we\"b --host 0.0.0.0:8080 --target 172.17.0.2:80", "--container: The container id")]
    [InlineData("add docker --container web --host 0.0.0.0:80 --target [fd00::2]:80", "--target: HostEndpoint (0.0.0.0) and ContainerEndpoint (fd00::2) must be of the same address family")]
    [InlineData("add docker --host 0.0.0.0:80 --target 172.17.0.2:80", "Option '--container' is required.")]
    [InlineData("add docker --container web --host 0.0.0.0:80 --target 172.17.0.2:80 --lan 10.0.0.0/8", "Unrecognized command or argument '--lan'")]
    [InlineData("add dnat --external 203.0.113.5 --internal 10.0.0.2 --ports 1-99999", "--ports: '1-99999' in '1-99999' is not a port")]
    [InlineData("add dnat --external 203.0.113.5 --internal 10.0.0.2 --ports 80 --internal-port x", "Cannot parse argument 'x' for option '--internal-port'")]
    [InlineData("add snat --internal 10.0.0.2 --external 203.0.113.5 --out-interface eth0/1", "--out-interface: The interface name 'eth0/1'")]
    [InlineData("add hairpin --external 203.0.113.5 --internal 10.0.0.2 --ports 80 --lan 10.0.0.1/24", "--lan: '10.0.0.1/24' is not a network")]
    [InlineData("add teleport", "Unrecognized command or argument 'teleport'")]
    [InlineData("plan docker", "Unrecognized command or argument 'plan'")]
    [InlineData("setup --chain PREROUTING", "NatMapOptions.ChainName is invalid")]
    [InlineData("sync", "Option '--file' is required.")]
    [InlineData("sync --file /nonexistent/state.json", "/nonexistent/state.json")]
    [InlineData("", "Required command was not provided.")]
    public async Task InvalidRequest_Exits2WithAClearMessageAndRunsNothing(string commandLine, string message)
    {
        var host = new FakeIptables();

        var (code, output, error) = await Run(host, commandLine + " --apply");

        code.Should().Be(2);
        output.Should().BeEmpty();
        error.Should().Contain(message);
        host.Processes.Should().BeEmpty();
    }

    [Fact]
    public async Task Apply_CommandFails_Exits1WithTheCommandAndItsStderr()
    {
        var host = new FakeIptables();
        _ = host.Script.FailWhen(CommandMatch.Any, 4, "Another app is currently holding the xtables lock.");

        var (code, _, error) = await Run(host, "setup --apply");

        code.Should().Be(1);
        error.Should().Contain("exited with code 4").And.Contain("xtables lock");
    }

    [Fact]
    public async Task List_Table_PrintsOneLinePerObject()
    {
        var host = await SetUpHost();
        (await Run(host, "list")).Out.Trim().Should().Be("# nothing installed");
        (await Run(host, "add docker --container web --host [::]:8080 --target [fd00::2]:80 --udp --apply")).Code.Should().Be(0);

        var (code, output, _) = await Run(host, "list");

        code.Should().Be(0);
        output.Trim().Should().Be("docker  udp [::]:8080 -> [fd00::2]:80 (container web)");
    }

    [Fact]
    public async Task Help_EveryCommand_Exits0AndDescribesIt()
    {
        var host = new FakeIptables();
        foreach (var command in new[] { "", "setup", "flush", "add", "add docker", "add dnat", "add snat", "add hairpin", "remove docker", "list", "sync", "audit" })
        {
            var (code, output, _) = await Run(host, command + " --help");
            code.Should().Be(0, command);
            output.Should().Contain("Usage:", command).And.Contain("--netns", "common options reach every command");
        }

        (await Run(host, "--version")).Out.Should().StartWith("0.1.0");
        host.Processes.Should().BeEmpty();
    }

    [Theory]
    [InlineData("iptables-save", true)]
    [InlineData("ip6tables-legacy-save -t nat", true)]
    [InlineData("iptables -w 10 -t filter -S", true)]
    [InlineData("ip netns exec lab iptables-nft -t nat -S NATMAP", true)]
    [InlineData("ip -o -4 route show match 10.0.0.2", true)]
    [InlineData("ip -j addr show", true)]
    [InlineData("sysctl -n net.ipv4.conf.all.route_localnet", true)]
    [InlineData("sysctl -q -w net.ipv4.conf.all.route_localnet=1", false)]
    [InlineData("iptables -w 10 -t nat -A NATMAP -j ACCEPT", false)]
    [InlineData("iptables -t nat -S -F", false)] // a listing option does not make a flush a read
    [InlineData("conntrack -D -p udp", false)]
    [InlineData("ip route add 10.0.0.0/8 dev eth0", false)]
    [InlineData("ip netns exec lab sh -c iptables-save", false)]
    public void IsRead_OnlyAClosedListOfReads(string commandLine, bool read)
    {
        var parts = commandLine.Split(' ');
        DryRunCommandRunner.IsRead(new CommandSpec(parts[0], parts[1..])).Should().Be(read);
        DryRunCommandRunner.IsRead(new CommandSpec(parts[0], parts[1..], "*nat\nCOMMIT\n")).Should().BeFalse("a command with input is a restore");
    }
}

using System.Text;
using NatMap.Iptables.Testing;
using static NatMap.Iptables.Tests.TestData;

namespace NatMap.Iptables.Tests;

/// <summary>What is particular to the default transport: one <c>iptables-restore</c> per family, reads by <c>iptables-save</c>.</summary>
public sealed class IptablesManagerBatchTests
{
    private const string WebComment = "natmap:docker:web:tcp:0.0.0.0:8080:172.17.0.2:80";

    private readonly FakeCommandRunner _fake = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private IptablesManager Manager(Action<NatMapOptions>? configure = null)
    {
        var options = new NatMapOptions();
        configure?.Invoke(options);
        return new IptablesManager(_fake, options);
    }

    private IEnumerable<string> Processes() => _fake.Processes.Select(p => p.StandardInput is null ? p.ToString() : $"{p.FileName} {string.Join(' ', p.Arguments)} <<<");

    private IEnumerable<string> Lines() => _fake.Commands.Select(c => c.ToString());

    /// <summary>What iptables-save would print after the restores the fake has seen so far, so a host can be scripted as "already done".</summary>
    private static string SaveAfter(IEnumerable<CommandSpec> restores)
    {
        var tables = new Dictionary<string, StringBuilder>();
        foreach (var line in restores.SelectMany(r => r.ToPerRuleCommands()))
        {
            var table = line.Arguments[line.Arguments.ToList().IndexOf("-t") + 1];
            var rest = line.Arguments.SkipWhile(a => a != "-t").Skip(2).ToList();
            var text = tables.TryGetValue(table, out var b) ? b : tables[table] = new StringBuilder();
            _ = rest[0] switch
            {
                "-N" => text.Append(':').Append(rest[1]).Append(" - [0:0]\n"),
                "-A" or "-I" => text.Append("-A ").Append(string.Join(' ', rest.Skip(1))).Append('\n'),
                _ => text,
            };
        }

        return string.Concat(tables.Select(t => $"*{t.Key}\n{t.Value}COMMIT\n"));
    }

    [Fact]
    public async Task Setup_EmptyHost_OneRestorePerFamily_AfterOneReadPerFamily()
    {
        await Manager().SetupAsync(Ct);

        Processes().Should().Equal(
            "sysctl -n net.ipv4.conf.all.route_localnet",
            "iptables-save",
            "ip6tables-save",
            "iptables-restore --noflush -w 10 <<<",
            "ip6tables-restore --noflush -w 10 <<<",
            "sysctl -q -w net.ipv4.conf.all.route_localnet=1");
    }

    [Fact]
    public async Task EveryOperation_ShowsTheSameRuleCommandsInBothTransports()
    {
        async Task<string[]> Run(RuleApplyMode transport)
        {
            var fake = new FakeCommandRunner();
            var manager = new IptablesManager(fake, new NatMapOptions { ApplyMode = transport });
            await manager.SetupAsync(Ct);
            await manager.InstallDockerMapAsync(Map(), Ct);
            await manager.InstallDnatAsync(new DnatConfig(Ip("2001:db8::5"), Ip("fd00::2"), 443), Ct);
            await manager.InstallHairpinAsync(new HairpinConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), 80), Ct);
            await manager.SyncAsync(new NatMapState { Snats = [new SnatConfig(Ip("10.0.0.2"), Ip("203.0.113.5"), "eth0")] }, Ct);
            return [.. fake.Commands.Where(c => c.Arguments.Any(a => a is "-A" or "-I" or "-N")).Select(c => c.ToString())];
        }

        var batch = await Run(RuleApplyMode.Batch);

        batch.Should().Equal(await Run(RuleApplyMode.PerRule)).And.HaveCountGreaterThan(20);
    }

    /// <summary>The restore lines that make the bucket chains and jumps of <see cref="TestData.Map"/>'s nat rules (tcp 8080, hairpin tcp 80).</summary>
    private const string NatBuckets =
        "-N NATMAP-T3\n-A NATMAP -p tcp -m tcp --dport 6144:8191 -m comment --comment natmap:setup:bucket -j NATMAP-T3\n" +
        "-N NATMAP-T3-30\n-A NATMAP-T3 -p tcp -m tcp --dport 8064:8127 -m comment --comment natmap:setup:bucket -j NATMAP-T3-30\n" +
        "-N NATMAP-PT3\n-A NATMAP-P -p tcp -m conntrack --ctorigdstport 6144:8191 -m comment --comment natmap:setup:bucket -j NATMAP-PT3\n" +
        "-N NATMAP-PT3-30\n-A NATMAP-PT3 -p tcp -m conntrack --ctorigdstport 8064:8127 -m comment --comment natmap:setup:bucket -j NATMAP-PT3-30\n";

    /// <summary>The restore lines that make the bucket chains and jumps of <see cref="TestData.Map"/>'s filter rule (tcp 80).</summary>
    private const string FilterBuckets =
        "-N NATMAP-T3\n-A NATMAP -p tcp -m conntrack --ctorigdstport 6144:8191 -m comment --comment natmap:setup:bucket -j NATMAP-T3\n" +
        "-N NATMAP-T3-30\n-A NATMAP-T3 -p tcp -m conntrack --ctorigdstport 8064:8127 -m comment --comment natmap:setup:bucket -j NATMAP-T3-30\n";

    /// <summary>The save-format declarations of <see cref="NatBuckets"/>'s chains, and their jumps (quoted as iptables-save quotes comments).</summary>
    private const string NatBucketsSaved =
        ":NATMAP-T3 - [0:0]\n:NATMAP-T3-30 - [0:0]\n:NATMAP-PT3 - [0:0]\n:NATMAP-PT3-30 - [0:0]\n" +
        "-A NATMAP -p tcp -m tcp --dport 6144:8191 -m comment --comment \"natmap:setup:bucket\" -j NATMAP-T3\n" +
        "-A NATMAP-T3 -p tcp -m tcp --dport 8064:8127 -m comment --comment \"natmap:setup:bucket\" -j NATMAP-T3-30\n" +
        "-A NATMAP-P -p tcp -m conntrack --ctorigdstport 6144:8191 -m comment --comment \"natmap:setup:bucket\" -j NATMAP-PT3\n" +
        "-A NATMAP-PT3 -p tcp -m conntrack --ctorigdstport 8064:8127 -m comment --comment \"natmap:setup:bucket\" -j NATMAP-PT3-30\n";

    /// <summary>The undo of restore lines such as <see cref="FilterBuckets"/>: last first, each jump deleted, then its chain.</summary>
    private static string Undone(string made) =>
        string.Concat(Enumerable.Reverse(made.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            .Select(static l => (l.StartsWith("-N ", StringComparison.Ordinal) ? "-X " + l[3..] : "-D " + l[3..]) + "\n"));

    [Fact]
    public async Task InstallDockerMap_NothingListed_RouteLookupReadsAndOneRestore()
    {
        await Manager().InstallDockerMapAsync(Map(), Ct);

        // A save that printed no table at all is followed by one of the first table, which a real host always prints.
        Processes().Should().Equal("ip -o -4 route show match 172.17.0.2", "iptables-save", "iptables-save -t nat", "iptables-restore --noflush -w 10 <<<");
        _fake.Processes[3].StandardInput.Should().Be(
            "*filter\n" + FilterBuckets +
            $"-A NATMAP-T3-30 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT --ctorigdstport 8080 -m comment --comment {WebComment} -j ACCEPT\n" +
            "COMMIT\n*nat\n" + NatBuckets +
            $"-A NATMAP-T3-30 -p tcp -m tcp --dport 8080 -m comment --comment {WebComment} -j DNAT --to-destination 172.17.0.2:80\n" +
            $"-A NATMAP-PT3-30 -s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m conntrack ! --ctorigdst 172.17.0.2 -m comment --comment {WebComment} -j MASQUERADE\n" +
            "COMMIT\n");
    }

    [Fact]
    public async Task InstallDockerMap_BatchFailsAfterTheFilterTableCommitted_UndoesExactlyWhatWentIn()
    {
        var committed = "*filter\n:NATMAP - [0:0]\n:NATMAP-T3 - [0:0]\n:NATMAP-T3-30 - [0:0]\n" +
            "-A NATMAP -p tcp -m conntrack --ctorigdstport 6144:8191 -m comment --comment \"natmap:setup:bucket\" -j NATMAP-T3\n" +
            "-A NATMAP-T3 -p tcp -m conntrack --ctorigdstport 8064:8127 -m comment --comment \"natmap:setup:bucket\" -j NATMAP-T3-30\n" +
            $"-A NATMAP-T3-30 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT --ctorigdstport 8080 -m comment --comment \"{WebComment}\" -j ACCEPT\nCOMMIT\n";
        _fake.Script.OutputWhen(CommandMatch.Program("iptables-save"), "*nat\n:NATMAP - [0:0]\n:NATMAP-P - [0:0]\nCOMMIT\n" + committed);
        _fake.Script.OutputWhen(CommandMatch.Program("iptables-save"), "*nat\n:NATMAP - [0:0]\n:NATMAP-P - [0:0]\nCOMMIT\n*filter\n:NATMAP - [0:0]\nCOMMIT\n", times: 1);

        // The nat block fails at its last line, the hairpin (line 18: *filter, four bucket lines, the ACCEPT, COMMIT,
        // *nat, eight bucket lines, the DNAT, the hairpin), after the filter block committed.
        _fake.Script.FailWhen(CommandMatch.ArgumentsContain("-t", "nat", "-A", "NATMAP-PT3-30"), 1, "iptables-restore: line 18 failed: No chain/target/match by that name.", times: 1);

        var act = () => Manager().InstallDockerMapAsync(Map(), Ct);

        var error = (await act.Should().ThrowAsync<IptablesCommandException>()).Which;
        error.FailedInputLine.Should().StartWith("-A NATMAP-PT3-30 -s 172.17.0.2/32");
        error.Message.Should().Contain("Failed input line: -A NATMAP-PT3-30 -s 172.17.0.2/32");
        // The failing line names the nat block, so the filter block committed: its undo runs without reading the tables
        // back (a read could take another writer's identical rules for these).
        Processes().Should().Equal(
            "ip -o -4 route show match 172.17.0.2", "iptables-save", "iptables-restore --noflush -w 10 <<<", "iptables-restore --noflush -w 10 <<<");
        _fake.Processes[^1].StandardInput.Should().Be(
            "*filter\n" +
            $"-D NATMAP-T3-30 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT --ctorigdstport 8080 -m comment --comment {WebComment} -j ACCEPT\n" +
            Undone(FilterBuckets) +
            "COMMIT\n");
    }

    [Fact]
    public async Task InstallDockerMap_BatchFailsBeforeAnyTableCommitted_RunsNoUndo()
    {
        _fake.Script.FailWhen(CommandMatch.ArgumentsContain("-t", "nat", "-A", "NATMAP"), 4, "Another app is currently holding the xtables lock.", times: 1);

        var act = () => Manager().InstallDockerMapAsync(Map(), Ct);

        (await act.Should().ThrowAsync<IptablesCommandException>()).Which.ExitCode.Should().Be(4);
        _fake.Processes.Should().ContainSingle(p => p.StandardInput != null, "the re-read shows nothing went in, so nothing is undone");
    }

    [Fact]
    public async Task SyncSnatsOfBothFamilies_SecondFamilyFails_UndoesTheFirstFamily()
    {
        _fake.Script.FailWhen(CommandMatch.Program("ip6tables-restore"), 2, "ip6tables-restore: line 2 failed");

        var act = () => Manager().SyncAsync(new NatMapState
        {
            Snats = [new SnatConfig(Ip("10.0.0.2"), Ip("203.0.113.5"), "eth0"), new SnatConfig(Ip("fd00::2"), Ip("2001:db8::5"), "eth0")],
        }, Ct);

        await act.Should().ThrowAsync<IptablesCommandException>();
        var undo = _fake.Processes[^1];
        undo.FileName.Should().Be("iptables-restore");
        undo.StandardInput.Should().Contain("-D POSTROUTING -s 10.0.0.2/32 -o eth0").And.Contain("-X NATMAP").And.NotContain("-A ").And.NotContain("-I ");
    }

    [Fact]
    public async Task RemoveDockerMap_RuleListedTwice_OneReadAndOneRestoreDeletingEveryCopy()
    {
        // Review item 3: deleting the rules as built removed one copy of a duplicated rule, and the port stayed published.
        var dnat = $"-A NATMAP-T3-30 -p tcp -m tcp --dport 8080 -m comment --comment \"{WebComment}\" -j DNAT --to-destination 172.17.0.2:80\n";
        _fake.Script.OutputWhen(CommandMatch.Program("iptables-save"),
            $"*nat\n:NATMAP - [0:0]\n:NATMAP-P - [0:0]\n{NatBucketsSaved}{dnat}-A NATMAP-T3-30 -j RETURN\n{dnat}" +
            $"-A NATMAP-PT3-30 -s 172.17.0.0/16 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m conntrack ! --ctorigdst 172.17.0.2 -m comment --comment \"{WebComment}\" -j MASQUERADE\n" +
            $"COMMIT\n*filter\n:NATMAP - [0:0]\n:NATMAP-T3 - [0:0]\n:NATMAP-T3-30 - [0:0]\n" +
            "-A NATMAP -p tcp -m conntrack --ctorigdstport 6144:8191 -m comment --comment \"natmap:setup:bucket\" -j NATMAP-T3\n" +
            "-A NATMAP-T3 -p tcp -m conntrack --ctorigdstport 8064:8127 -m comment --comment \"natmap:setup:bucket\" -j NATMAP-T3-30\n" +
            $"-A NATMAP-T3-30 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m comment --comment \"{WebComment}\" -j ACCEPT\nCOMMIT\n");

        await Manager().RemoveDockerMapAsync(Map(), Ct);

        // Every copy goes. The DNAT bucket keeps another rule (the RETURN), so it and its group stay; the hairpin and
        // filter buckets are left empty, so they and their groups go, each after its jump, buckets before groups. The
        // deletes go by specification, in the order of their positions in their chains (the second copy is third).
        Processes().Should().Equal("iptables-save", "iptables-restore --noflush -w 10 <<<");
        _fake.Processes[^1].StandardInput.Should().Be(
            "*nat\n" +
            $"-D NATMAP-T3-30 -p tcp -m tcp --dport 8080 -m comment --comment {WebComment} -j DNAT --to-destination 172.17.0.2:80\n" +
            $"-D NATMAP-PT3-30 -s 172.17.0.0/16 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m conntrack ! --ctorigdst 172.17.0.2 -m comment --comment {WebComment} -j MASQUERADE\n" +
            "-D NATMAP-PT3 -p tcp -m conntrack --ctorigdstport 8064:8127 -m comment --comment natmap:setup:bucket -j NATMAP-PT3-30\n" +
            "-D NATMAP-P -p tcp -m conntrack --ctorigdstport 6144:8191 -m comment --comment natmap:setup:bucket -j NATMAP-PT3\n" +
            $"-D NATMAP-T3-30 -p tcp -m tcp --dport 8080 -m comment --comment {WebComment} -j DNAT --to-destination 172.17.0.2:80\n" +
            "-X NATMAP-PT3-30\n-X NATMAP-PT3\n" +
            "COMMIT\n*filter\n" +
            $"-D NATMAP-T3-30 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m comment --comment {WebComment} -j ACCEPT\n" +
            "-D NATMAP-T3 -p tcp -m conntrack --ctorigdstport 8064:8127 -m comment --comment natmap:setup:bucket -j NATMAP-T3-30\n" +
            "-D NATMAP -p tcp -m conntrack --ctorigdstport 6144:8191 -m comment --comment natmap:setup:bucket -j NATMAP-T3\n" +
            "-X NATMAP-T3-30\n-X NATMAP-T3\n" +
            "COMMIT\n");
    }

    [Fact]
    public async Task RemoveDockerMap_SomeRuleAlreadyGone_DeletesWhatCarriesItsComment()
    {
        _fake.Script.OutputWhen(CommandMatch.Program("iptables-save"),
            $"*nat\n:NATMAP - [0:0]\n-A NATMAP -p tcp -m tcp --dport 8080 -m comment --comment \"{WebComment}\" -j DNAT --to-destination 172.17.0.2:80\n" +
            "-A NATMAP -p tcp -m tcp --dport 80 -m comment --comment \"natmap:docker:web:tcp:0.0.0.0:80:172.17.0.2:80\" -j DNAT --to-destination 172.17.0.2:80\n" +
            $"-A POSTROUTING -s 172.17.0.0/16 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m conntrack ! --ctorigdst 172.17.0.2 -m comment --comment \"{WebComment}\" -j MASQUERADE\n" +
            "-A POSTROUTING -o eth0 -j MASQUERADE\nCOMMIT\n*filter\n:NATMAP - [0:0]\nCOMMIT\n");

        await Manager().RemoveDockerMapAsync(Map(), Ct);

        Processes().Should().Equal("iptables-save", "iptables-restore --noflush -w 10 <<<");
        _fake.Processes[^1].StandardInput.Should().Be(
            "*nat\n" +
            $"-D NATMAP -p tcp -m tcp --dport 8080 -m comment --comment {WebComment} -j DNAT --to-destination 172.17.0.2:80\n" +
            $"-D POSTROUTING -s 172.17.0.0/16 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m conntrack ! --ctorigdst 172.17.0.2 -m comment --comment {WebComment} -j MASQUERADE\n" +
            "COMMIT\n");
    }

    [Fact]
    public async Task RemoveDnatSnatHairpin_NothingInstalled_OnlyReads()
    {
        var manager = Manager();

        await manager.RemoveDnatAsync(new DnatConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), 80), Ct);
        await manager.RemoveSnatAsync(new SnatConfig(Ip("10.0.0.2"), Ip("203.0.113.5"), "eth0"), Ct);
        await manager.RemoveHairpinAsync(new HairpinConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), 80), Ct);

        _fake.Processes.Should().OnlyContain(p => p.FileName == "iptables-save");
    }

    [Fact]
    public async Task InstallDockerMap_RuleListedTwiceAndAStaleHairpin_OneCopyOfEachBuiltRuleIsLeft()
    {
        // Review item 3: whatever put a second copy there (another tool, an older version), an install leaves exactly one.
        var dnat = $"-A NATMAP-T3-30 -p tcp -m tcp --dport 8080 -m comment --comment \"{WebComment}\" -j DNAT --to-destination 172.17.0.2:80\n";
        var masquerade = $"-A NATMAP-PT3-30 -s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m conntrack ! --ctorigdst 172.17.0.2 -m comment --comment \"{WebComment}\" -j MASQUERADE\n";
        _fake.Script.OutputWhen(CommandMatch.Program("iptables-save"),
            $"*nat\n:NATMAP - [0:0]\n:NATMAP-P - [0:0]\n{NatBucketsSaved}{dnat}{dnat}{masquerade}" +
            $"-A NATMAP-PT3-30 -s 10.99.0.0/16 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m conntrack ! --ctorigdst 172.17.0.2 -m comment --comment \"{WebComment}\" -j MASQUERADE\n" +
            "COMMIT\n*filter\n:NATMAP - [0:0]\nCOMMIT\n");

        await Manager().InstallDockerMapAsync(Map(), Ct);

        // The nat buckets stand and keep a rule each: only the extra copy and the stale hairpin go.
        _fake.Processes[^1].StandardInput.Should().Be(
            "*nat\n" +
            $"-D NATMAP-T3-30 -p tcp -m tcp --dport 8080 -m comment --comment {WebComment} -j DNAT --to-destination 172.17.0.2:80\n" +
            $"-D NATMAP-PT3-30 -s 10.99.0.0/16 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m conntrack ! --ctorigdst 172.17.0.2 -m comment --comment {WebComment} -j MASQUERADE\n" +
            "COMMIT\n*filter\n" + FilterBuckets +
            string.Join(' ', ["-A", "NATMAP-T3-30", .. NatMap.Iptables.Rules.NatRuleBuilder.Default.BuildDockerMap(Map()).Single(r => r.Table == "filter").Specification]) + "\n" +
            "COMMIT\n");
    }

    [Fact]
    public async Task FlushAll_OneReadAndOneRestorePerFamily()
    {
        _fake.Script.OutputWhen(CommandMatch.Program("iptables-save"),
            "*raw\n-A PREROUTING -d 127.0.0.0/8 ! -i lo -m comment --comment \"natmap:setup:route_localnet\" -j DROP\nCOMMIT\n" +
            "*nat\n:NATMAP - [0:0]\n-A PREROUTING -m addrtype --dst-type LOCAL -m comment --comment \"natmap:setup\" -j NATMAP\n-A POSTROUTING -o eth0 -j MASQUERADE\nCOMMIT\n");

        await Manager().FlushAllAsync(Ct);

        Processes().Should().Equal("iptables-save", "ip6tables-save", "sysctl -q -w net.ipv4.conf.all.route_localnet=0", "iptables-restore --noflush -w 10 <<<");
        _fake.Processes[^1].StandardInput.Should().Be(
            "*raw\n-D PREROUTING -d 127.0.0.0/8 ! -i lo -m comment --comment natmap:setup:route_localnet -j DROP\nCOMMIT\n" +
            "*nat\n-D PREROUTING -m addrtype --dst-type LOCAL -m comment --comment natmap:setup -j NATMAP\n-X NATMAP\nCOMMIT\n");
    }

    [Fact]
    public async Task List_ReadsTheNatTableOfEachFamily()
    {
        await Manager().ListAsync(Ct);

        Processes().Should().Equal("iptables-save -t nat", "ip6tables-save -t nat");
    }

    private static NatMapState Desired => new()
    {
        DockerMaps = [Map(), Map("[::]:8080", "[fd00::2]:80"), Map("127.0.0.1:5432", "172.17.0.4:5432", id: "db")],
        Dnats = [new DnatConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), PortSet.Parse("80,443"))],
        Snats = [new SnatConfig(Ip("10.0.0.2"), Ip("203.0.113.5"), "eth0")],
        Hairpins = [new HairpinConfig(Ip("2001:db8::5"), Ip("fd00::20"), 80)],
    };

    [Fact]
    public async Task Sync_EmptyHost_SetupAndEveryObjectInOneRestorePerFamily()
    {
        await Manager().SyncAsync(Desired, Ct);

        Processes().Should().Equal(
            "sysctl -n net.ipv4.conf.all.route_localnet",
            "iptables-save",
            "ip -o -4 route show",
            "ip6tables-save",
            "ip -o -6 route show",
            "iptables-restore --noflush -w 10 <<<",
            "ip6tables-restore --noflush -w 10 <<<",
            "sysctl -q -w net.ipv4.conf.all.route_localnet=1");
        Lines().Should().Contain(l => l.StartsWith("iptables -w 10 -t nat -A NATMAP-T2-20 -d 127.0.0.1/32 -p tcp -m tcp --dport 5432", StringComparison.Ordinal))
            .And.Contain(l => l.StartsWith("ip6tables -w 10 -t nat -A PREROUTING -d 2001:db8::5/128", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Sync_HostAlreadyInTheDesiredState_OnlyReads()
    {
        await Manager().SyncAsync(Desired, Ct);
        var restores = _fake.Processes.Where(p => p.StandardInput is not null).ToList();
        _fake.Script.OutputWhen(CommandMatch.Program("iptables-save"), SaveAfter(restores.Where(r => r.FileName == "iptables-restore")));
        _fake.Script.OutputWhen(CommandMatch.Program("ip6tables-save"), SaveAfter(restores.Where(r => r.FileName == "ip6tables-restore")));
        _fake.Script.OutputWhen(CommandMatch.Program("sysctl"), "1\n");
        _fake.Clear();

        await Manager().SyncAsync(Desired, Ct);

        Processes().Should().Equal(
            "sysctl -n net.ipv4.conf.all.route_localnet", "iptables-save", "ip -o -4 route show", "ip6tables-save", "ip -o -6 route show");
    }

    [Fact]
    public async Task Sync_Superset_RemovesOnlyOwnedRulesNoDesiredObjectHas_AndDuplicates()
    {
        await Manager().SyncAsync(Desired, Ct);
        var v4 = SaveAfter(_fake.Processes.Where(r => r.FileName == "iptables-restore"));
        var extra = $"-A NATMAP -p tcp -m tcp --dport 9090 -m comment --comment \"natmap:docker:old:tcp:0.0.0.0:9090:172.17.0.9:80\" -j DNAT --to-destination 172.17.0.9:80\n" +
            "-A NATMAP -p tcp -m tcp --dport 8080 -m comment --comment \"" + WebComment + "\" -j DNAT --to-destination 172.17.0.2:80\n" +
            "-A NATMAP -p tcp -m tcp --dport 7070 -m comment --comment \"someone:else\" -j DNAT --to-destination 172.17.0.7:80\n";
        _fake.Script.OutputWhen(CommandMatch.Program("iptables-save"), v4.Replace("*nat\n", "*nat\n" + extra, StringComparison.Ordinal));
        _fake.Script.OutputWhen(CommandMatch.Program("ip6tables-save"), SaveAfter(_fake.Processes.Where(r => r.FileName == "ip6tables-restore")));
        _fake.Script.OutputWhen(CommandMatch.Program("sysctl"), "1\n");
        _fake.Clear();

        await Manager().SyncAsync(Desired, Ct);

        _fake.Processes.Where(p => p.StandardInput is not null).Should().ContainSingle().Which.StandardInput.Should().Be(
            "*nat\n" +
            "-D NATMAP -p tcp -m tcp --dport 9090 -m comment --comment natmap:docker:old:tcp:0.0.0.0:9090:172.17.0.9:80 -j DNAT --to-destination 172.17.0.9:80\n" +
            $"-D NATMAP -p tcp -m tcp --dport 8080 -m comment --comment {WebComment} -j DNAT --to-destination 172.17.0.2:80\n" +
            "COMMIT\n");
    }

    [Fact]
    public async Task Sync_ObjectListedTwice_InstalledOnce()
    {
        var once = new NatMapState { DockerMaps = [Map()] };
        var twice = new NatMapState { DockerMaps = [Map(), Map()] };

        await Manager(o => o.EnableIpv6 = false).SyncAsync(once, Ct);
        var expected = _fake.Processes.Single(p => p.StandardInput is not null).StandardInput;
        _fake.Clear();
        await Manager(o => o.EnableIpv6 = false).SyncAsync(twice, Ct);

        _fake.Processes.Single(p => p.StandardInput is not null).StandardInput.Should().Be(expected);
        Lines().Count(l => l.Contains(WebComment, StringComparison.Ordinal)).Should().Be(3);
    }

    [Fact]
    public async Task Sync_RoutesKnown_HairpinCoversTheContainersNetwork()
    {
        _fake.Script.OutputWhen(CommandMatch.ArgumentsContain("-4", "route", "show"), "default via 10.0.0.1 dev eth0\n172.17.0.0/16 dev docker0 proto kernel scope link src 172.17.0.1\n");

        await Manager(o => o.EnableIpv6 = false).SyncAsync(new NatMapState { DockerMaps = [Map()] }, Ct);

        Lines().Should().Contain(l => l.Contains("-A NATMAP-PT3-30 -s 172.17.0.0/16 -d 172.17.0.2/32", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Sync_InvalidDesiredState_ThrowsBeforeAnyCommand()
    {
        var manager = Manager(o => o.EnableIpv6 = false);

        await FluentActions.Awaiting(() => manager.SyncAsync(null!, Ct)).Should().ThrowAsync<ArgumentNullException>();
        await FluentActions.Awaiting(() => manager.SyncAsync(new NatMapState { Dnats = [null!] }, Ct))
            .Should().ThrowAsync<ArgumentException>().Where(e => e.ParamName == "Dnats");
        await FluentActions.Awaiting(() => manager.SyncAsync(new NatMapState { Snats = null! }, Ct))
            .Should().ThrowAsync<ArgumentNullException>().Where(e => e.ParamName == "Snats");
        await FluentActions.Awaiting(() => manager.SyncAsync(new NatMapState { DockerMaps = [Map("[::]:80", "[fd00::2]:80")] }, Ct))
            .Should().ThrowAsync<InvalidOperationException>().WithMessage("*EnableIpv6*");

        _fake.Processes.Should().BeEmpty();
    }

    [Fact]
    public async Task Sync_Cancelled_UndoesTheFamiliesAlreadyApplied()
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        _fake.Script.RespondUsing(CommandMatch.Program("iptables-restore"), _ =>
        {
            cts.Cancel();
            return CommandResult.Success;
        }, times: 1);

        var act = () => Manager().SyncAsync(Desired, cts.Token);

        await act.Should().ThrowAsync<OperationCanceledException>();
        _fake.Processes.Where(p => p.StandardInput is not null).Select(p => p.FileName).Should().Equal("iptables-restore", "iptables-restore");
        _fake.Processes[^1].StandardInput.Should().NotContain("-A ").And.Contain("-X NATMAP");
    }
}

using NatMap.Iptables.Testing;
using static NatMap.Iptables.Tests.TestData;

namespace NatMap.Iptables.Tests;

/// <summary>
/// The manager's plans, run with the per-rule transport, whose one command per change shows every step.
/// <see cref="IptablesManagerBatchTests"/> covers what is particular to batches.
/// </summary>
public sealed class IptablesManagerTests
{
    private readonly FakeCommandRunner _fake = new();

    private IptablesManager Manager(Action<NatMapOptions>? configure = null)
    {
        var options = new NatMapOptions { ApplyMode = RuleApplyMode.PerRule };
        configure?.Invoke(options);
        return new IptablesManager(_fake, options);
    }

    private IEnumerable<string> Lines() => _fake.Commands.Select(c => c.ToString());

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Setup_EmptyHost_CreatesChainsAndJumpsForBothFamilies()
    {
        await Manager().SetupAsync(Ct);

        string[] Filter(string p) =>
        [
            $"{p} -w 10 -t filter -N DOCKER-USER",
            $"{p} -w 10 -t filter -I FORWARD -m comment --comment natmap:setup -j DOCKER-USER",
            $"{p} -w 10 -t filter -N NATMAP",
            $"{p} -w 10 -t filter -I NATMAP -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment natmap:setup -j ACCEPT",
            $"{p} -w 10 -t filter -I DOCKER-USER -m comment --comment natmap:setup -j NATMAP",
        ];
        string[] NatJumps(string p) =>
        [
            $"{p} -w 10 -t nat -I PREROUTING -m addrtype --dst-type LOCAL -m comment --comment natmap:setup -j NATMAP",
            $"{p} -w 10 -t nat -I OUTPUT -m addrtype --dst-type LOCAL -m comment --comment natmap:setup -j NATMAP",
        ];
        Lines().Should().Equal(
        [
            "sysctl -n net.ipv4.conf.all.route_localnet",
            "iptables -w 10 -t filter -S",
            "iptables -w 10 -t nat -S",
            "iptables -w 10 -t raw -S",
            "ip6tables -w 10 -t filter -S",
            "ip6tables -w 10 -t nat -S",
            .. Filter("iptables"),
            "iptables -w 10 -t nat -N NATMAP",
            "iptables -w 10 -t nat -N NATMAP-P",
            "iptables -w 10 -t nat -A POSTROUTING -m conntrack --ctstate DNAT -m comment --comment natmap:setup -j NATMAP-P",
            "iptables -w 10 -t nat -I POSTROUTING -s 127.0.0.0/8 ! -o lo -m conntrack --ctstate DNAT -m comment --comment natmap:setup -j MASQUERADE",
            .. NatJumps("iptables"),
            "iptables -w 10 -t raw -I PREROUTING -d 127.0.0.0/8 ! -i lo -m comment --comment natmap:setup:route_localnet -j DROP",
            .. Filter("ip6tables"),
            "ip6tables -w 10 -t nat -N NATMAP",
            "ip6tables -w 10 -t nat -N NATMAP-P",
            "ip6tables -w 10 -t nat -A POSTROUTING -m conntrack --ctstate DNAT -m comment --comment natmap:setup -j NATMAP-P",
            .. NatJumps("ip6tables"),
            "sysctl -q -w net.ipv4.conf.all.route_localnet=1",
        ]);
    }

    [Fact]
    public async Task Setup_EverythingPresent_OnlyReads()
    {
        _fake.Script.OutputWhen(CommandMatch.ArgumentsContain("-t", "filter", "-S"),
            "-P FORWARD ACCEPT\n-N DOCKER-USER\n-N NATMAP\n-A FORWARD -j DOCKER-USER\n-A DOCKER-USER -m comment --comment \"natmap:setup\" -j NATMAP\n" +
            "-A NATMAP -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment \"natmap:setup\" -j ACCEPT\n");
        _fake.Script.OutputWhen(CommandMatch.ArgumentsContain("-t", "raw", "-S"), "-P PREROUTING ACCEPT\n-A PREROUTING -d 127.0.0.0/8 ! -i lo -m comment --comment \"natmap:setup:route_localnet\" -j DROP\n");
        _fake.Script.OutputWhen(CommandMatch.Program("sysctl"), "1\n");
        _fake.Script.OutputWhen(CommandMatch.ArgumentsContain("-t", "nat", "-S"),
            "-P PREROUTING ACCEPT\n-N NATMAP\n-N NATMAP-P\n-A PREROUTING -m addrtype --dst-type LOCAL -m comment --comment \"natmap:setup\" -j NATMAP\n-A OUTPUT -m addrtype --dst-type LOCAL -m comment --comment \"natmap:setup\" -j NATMAP\n" +
            "-A POSTROUTING -s 127.0.0.0/8 ! -o lo -m conntrack --ctstate DNAT -m comment --comment \"natmap:setup\" -j MASQUERADE\n" +
            "-A POSTROUTING -m conntrack --ctstate DNAT -m comment --comment \"natmap:setup\" -j NATMAP-P\n");

        await Manager().SetupAsync(Ct);

        _fake.Commands.Should().HaveCount(6).And.OnlyContain(c => c.Arguments.Contains("-S") || c.Arguments.Contains("-n"));
    }

    [Fact]
    public async Task Setup_DockerAlreadyMadeDockerUser_AddsNoForwardJump()
    {
        _fake.Script.OutputWhen(CommandMatch.ArgumentsContain("-t", "filter", "-S"), "-P FORWARD DROP\n-N DOCKER-USER\n-A FORWARD -j DOCKER-USER\n");

        await Manager(o => o.EnableIpv6 = false).SetupAsync(Ct);

        Lines().Should().NotContain(l => l.Contains("DOCKER-USER", StringComparison.Ordinal) && (l.Contains("-N", StringComparison.Ordinal) || l.Contains("FORWARD", StringComparison.Ordinal)));
        Lines().Should().Contain("iptables -w 10 -t filter -I DOCKER-USER -m comment --comment natmap:setup -j NATMAP");
    }

    [Fact]
    public async Task Setup_FailureHalfway_UndoesWhatItMade()
    {
        _fake.Script.FailWhen(CommandMatch.ArgumentsContain("-t", "nat", "-N", "NATMAP"), 1, "iptables: out of memory");

        var act = () => Manager(o => o.EnableIpv6 = false).SetupAsync(Ct);

        (await act.Should().ThrowAsync<IptablesCommandException>()).Which.Command.Arguments.Should().Contain("-N");
        Lines().Skip(10).Should().Equal(
            "iptables -w 10 -t filter -D DOCKER-USER -m comment --comment natmap:setup -j NATMAP",
            "iptables -w 10 -t filter -D NATMAP -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment natmap:setup -j ACCEPT",
            "iptables -w 10 -t filter -X NATMAP",
            "iptables -w 10 -t filter -D FORWARD -m comment --comment natmap:setup -j DOCKER-USER",
            "iptables -w 10 -t filter -X DOCKER-USER");
    }

    [Fact]
    public async Task Setup_RouteLocalnetAlreadyOnBesideAnotherGuard_AddsThePlainGuardAndLeavesTheSetting()
    {
        _fake.Script.OutputWhen(CommandMatch.Program("sysctl"), "1\n");
        _fake.Script.OutputWhen(CommandMatch.ArgumentsContain("-t", "raw", "-S"),
            "-P PREROUTING ACCEPT\n-A PREROUTING -d 127.0.0.0/8 ! -i lo -m comment --comment \"other:setup:route_localnet\" -j DROP\n");

        await Manager(o => o.EnableIpv6 = false).SetupAsync(Ct);

        Lines().Should().Contain("iptables -w 10 -t raw -I PREROUTING -d 127.0.0.0/8 ! -i lo -m comment --comment natmap:setup -j DROP")
            .And.NotContain(l => l.Contains("-w net.ipv4", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Setup_RouteLocalnetAlreadyOnWithNoGuardAtAll_AddsTheMarkedGuardAndLeavesTheSetting()
    {
        // Another tool flushed the raw table after Setup turned the setting on: the guard that comes back says so again.
        _fake.Script.OutputWhen(CommandMatch.Program("sysctl"), "1\n");

        await Manager(o => o.EnableIpv6 = false).SetupAsync(Ct);

        Lines().Should().Contain("iptables -w 10 -t raw -I PREROUTING -d 127.0.0.0/8 ! -i lo -m comment --comment natmap:setup:route_localnet -j DROP")
            .And.NotContain(l => l.Contains("-w net.ipv4", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Setup_HostSettingsUnmanaged_AddsTheGuardButNeverWritesSysctl()
    {
        await Manager(o => o.ManageHostSettings = false).SetupAsync(Ct);

        _fake.Commands.Should().NotContain(c => c.FileName == "sysctl");
        Lines().Should().Contain("iptables -w 10 -t raw -I PREROUTING -d 127.0.0.0/8 ! -i lo -m comment --comment natmap:setup -j DROP");
    }

    [Theory]
    [InlineData("0.0.0.0:8080", true)]    // admits 127.0.0.1
    [InlineData("127.0.0.1:8080", true)]  // loopback binding
    [InlineData("10.0.0.1:8080", false)]  // bound elsewhere: no loopback path, no check
    public async Task InstallDockerMap_HostSettingsUnmanagedAndRouteLocalnetOff_FailsBeforeAnyRule(string host, bool fails)
    {
        _fake.Script.OutputWhen(CommandMatch.Program("sysctl"), "0\n");

        var act = () => Manager(o => o.ManageHostSettings = false).InstallDockerMapAsync(Map(host), Ct);

        if (fails)
        {
            await act.Should().ThrowAsync<InvalidOperationException>().WithMessage("*route_localnet=1*ManageHostSettings*");
            _fake.Commands.Should().ContainSingle(c => c.FileName == "sysctl");
            _fake.Commands.Should().NotContain(c => c.Arguments.Contains("-A"), "no rule is added");
        }
        else
        {
            await act.Should().NotThrowAsync();
            _fake.Commands.Should().NotContain(c => c.FileName == "sysctl");
        }
    }

    [Fact]
    public async Task FlushAll_GuardThatTurnedRouteLocalnetOn_TurnsItOffAgain()
    {
        _fake.Script.OutputWhen(c => c.FileName == "iptables" && c.Arguments.Contains("raw"),
            "-P PREROUTING ACCEPT\n-A PREROUTING -d 127.0.0.0/8 ! -i lo -m comment --comment \"natmap:setup:route_localnet\" -j DROP\n");

        await Manager(o => o.EnableIpv6 = false).FlushAllAsync(Ct);

        Lines().Take(5).Should().Equal(
            "iptables -w 10 -t raw -S",
            "iptables -w 10 -t nat -S",
            "iptables -w 10 -t filter -S",
            "sysctl -q -w net.ipv4.conf.all.route_localnet=0",
            "iptables -w 10 -t raw -D PREROUTING -d 127.0.0.0/8 ! -i lo -m comment --comment natmap:setup:route_localnet -j DROP");
    }

    /// <summary>The bucket chains and jumps of <see cref="TestData.Map"/>'s nat rules (tcp 8080, hairpin tcp 80), made first.</summary>
    private static readonly string[] NatBuckets =
    [
        "iptables -w 10 -t nat -N NATMAP-T3",
        "iptables -w 10 -t nat -A NATMAP -p tcp -m tcp --dport 6144:8191 -m comment --comment natmap:setup:bucket -j NATMAP-T3",
        "iptables -w 10 -t nat -N NATMAP-T3-30",
        "iptables -w 10 -t nat -A NATMAP-T3 -p tcp -m tcp --dport 8064:8127 -m comment --comment natmap:setup:bucket -j NATMAP-T3-30",
        "iptables -w 10 -t nat -N NATMAP-PT3",
        "iptables -w 10 -t nat -A NATMAP-P -p tcp -m conntrack --ctorigdstport 6144:8191 -m comment --comment natmap:setup:bucket -j NATMAP-PT3",
        "iptables -w 10 -t nat -N NATMAP-PT3-30",
        "iptables -w 10 -t nat -A NATMAP-PT3 -p tcp -m conntrack --ctorigdstport 8064:8127 -m comment --comment natmap:setup:bucket -j NATMAP-PT3-30",
    ];

    /// <summary>The bucket chains and jumps of <see cref="TestData.Map"/>'s filter rule (tcp 80).</summary>
    private static readonly string[] FilterBuckets =
    [
        "iptables -w 10 -t filter -N NATMAP-T3",
        "iptables -w 10 -t filter -A NATMAP -p tcp -m conntrack --ctorigdstport 6144:8191 -m comment --comment natmap:setup:bucket -j NATMAP-T3",
        "iptables -w 10 -t filter -N NATMAP-T3-30",
        "iptables -w 10 -t filter -A NATMAP-T3 -p tcp -m conntrack --ctorigdstport 8064:8127 -m comment --comment natmap:setup:bucket -j NATMAP-T3-30",
    ];

    /// <summary>The undo of <paramref name="made"/> (bucket chains and jumps as above), last first: each jump deleted, then its chain.</summary>
    private static IEnumerable<string> Unmade(IEnumerable<string> made) =>
        made.Reverse().Select(static l => l.Replace(" -N ", " -X ", StringComparison.Ordinal).Replace(" -A ", " -D ", StringComparison.Ordinal));

    [Fact]
    public async Task InstallDockerMap_EmptyHost_ReadsOnceAndAppendsEveryRule()
    {
        await Manager().InstallDockerMapAsync(Map(), Ct);

        const string c = "natmap:docker:web:tcp:0.0.0.0:8080:172.17.0.2:80";
        // Table by table (filter, then nat), the mapping's bucket chains and their jumps come first, then its rules.
        Lines().Should().Equal(
        [
            "ip -o -4 route show match 172.17.0.2",
            "iptables -w 10 -t nat -S",
            "iptables -w 10 -t filter -S",
            .. FilterBuckets,
            $"iptables -w 10 -t filter -A NATMAP-T3-30 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT --ctorigdstport 8080 -m comment --comment {c} -j ACCEPT",
            .. NatBuckets,
            $"iptables -w 10 -t nat -A NATMAP-T3-30 -p tcp -m tcp --dport 8080 -m comment --comment {c} -j DNAT --to-destination 172.17.0.2:80",
            $"iptables -w 10 -t nat -A NATMAP-PT3-30 -s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m conntrack ! --ctorigdst 172.17.0.2 -m comment --comment {c} -j MASQUERADE",
        ]);
    }

    [Fact]
    public async Task InstallDockerMap_RouteLookupCannotRun_FallsBackToTheContainerItself()
    {
        _fake.Script.RespondUsing(CommandMatch.Program("ip"), _ => throw new System.ComponentModel.Win32Exception(2, "No such file or directory"));

        await Manager().InstallDockerMapAsync(Map(), Ct);

        Lines().Should().Contain(l => l.Contains("-A NATMAP-PT3-30 -s 172.17.0.2/32 -d 172.17.0.2/32", StringComparison.Ordinal));
    }

    [Fact]
    public async Task InstallDockerMap_RouteLookupFindsTheBridge_MasqueradesTheWholeNetwork()
    {
        _fake.Script.OutputWhen(CommandMatch.Program("ip"), "default via 10.0.0.1 dev eth0 \n172.17.0.0/16 dev docker0 proto kernel scope link src 172.17.0.1 \n");

        await Manager().InstallDockerMapAsync(Map(), Ct);

        Lines().Should().Contain(l => l.Contains("-A NATMAP-PT3-30 -s 172.17.0.0/16 -d 172.17.0.2/32", StringComparison.Ordinal));
    }

    [Fact]
    public async Task InstallDockerMap_Ipv6Endpoint_UsesIp6tables()
    {
        await Manager().InstallDockerMapAsync(Map("[::]:8080", "[fd00::2]:80"), Ct);

        _fake.Commands[0].ToString().Should().Be("ip -o -6 route show match fd00::2");
        _fake.Commands.Skip(1).Should().OnlyContain(c => c.FileName == "ip6tables");
        _fake.Commands.Should().Contain(c => c.Arguments.Contains("[fd00::2]:80"));
    }

    [Fact]
    public async Task InstallDockerMap_RulesAlreadyThere_AreNotAddedTwice()
    {
        _fake.Script.OutputWhen(CommandMatch.ArgumentsContain("-t", "nat", "-S"),
            "-N NATMAP\n-N NATMAP-P\n-N NATMAP-T3\n-N NATMAP-T3-30\n" +
            "-A NATMAP -p tcp -m tcp --dport 6144:8191 -m comment --comment \"natmap:setup:bucket\" -j NATMAP-T3\n" +
            "-A NATMAP-T3 -p tcp -m tcp --dport 8064:8127 -m comment --comment \"natmap:setup:bucket\" -j NATMAP-T3-30\n" +
            "-A NATMAP-T3-30 -p tcp -m tcp --dport 8080 -m comment --comment \"natmap:docker:web:tcp:0.0.0.0:8080:172.17.0.2:80\" -j DNAT --to-destination 172.17.0.2:80\n");
        _fake.Script.OutputWhen(CommandMatch.ArgumentsContain("-t", "filter", "-S"), "-P FORWARD ACCEPT\n-N NATMAP\n");

        await Manager().InstallDockerMapAsync(Map(), Ct);

        // The DNAT rule and its bucket stand: only the hairpin's and the filter rule's buckets are made.
        Lines().Where(l => l.Contains("-t nat", StringComparison.Ordinal)).Should().NotContain(l => l.Contains("-A NATMAP-T3-30 -p tcp", StringComparison.Ordinal) || l.Contains("NATMAP-T3 ", StringComparison.Ordinal) || l.EndsWith("NATMAP-T3", StringComparison.Ordinal));
        Lines().Should().HaveCount(3 + 4 + 1 + 4 + 1, "a route lookup, two reads, and the two rules not yet present, each after its two chains and jumps");
    }

    [Fact]
    public async Task InstallDockerMap_ThirdRuleFails_RemovesTheFirstTwoAndReportsTheCommand()
    {
        _fake.Script.FailWhen(CommandMatch.ArgumentsContain("-t", "nat", "-A", "NATMAP-PT3-30"), 2, "iptables v1.8.9 (nf_tables): unknown option \"--bogus\"");

        var act = () => Manager().InstallDockerMapAsync(Map(), Ct);

        var error = (await act.Should().ThrowAsync<IptablesCommandException>()).Which;
        error.Command.FileName.Should().Be("iptables");
        error.ExitCode.Should().Be(2);
        error.StandardError.Should().Contain("unknown option");
        error.Command.Arguments.Should().ContainInConsecutiveOrder("-t", "nat", "-A", "NATMAP-PT3-30");

        // The mapping's third rule (the hairpin, its last change) fails after three reads, the filter buckets and rule,
        // the nat buckets and the DNAT rule: everything undone, last first, each chain deleted once its rules and the
        // jump to it are gone.
        Lines().Skip(3 + FilterBuckets.Length + 1 + NatBuckets.Length + 1 + 1).Should().Equal(
        [
            "iptables -w 10 -t nat -D NATMAP-T3-30 -p tcp -m tcp --dport 8080 -m comment --comment natmap:docker:web:tcp:0.0.0.0:8080:172.17.0.2:80 -j DNAT --to-destination 172.17.0.2:80",
            .. Unmade(NatBuckets),
            "iptables -w 10 -t filter -D NATMAP-T3-30 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT --ctorigdstport 8080 -m comment --comment natmap:docker:web:tcp:0.0.0.0:8080:172.17.0.2:80 -j ACCEPT",
            .. Unmade(FilterBuckets),
        ]);
    }

    [Fact]
    public async Task InstallDockerMap_Cancelled_RemovesWhatWasAdded()
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        _fake.Script.RespondUsing(CommandMatch.ArgumentsContain("-t", "nat", "-A", "NATMAP-T3-30"), _ =>
        {
            cts.Cancel();
            return CommandResult.Success;
        });

        var act = () => Manager().InstallDockerMapAsync(Map(), cts.Token);

        // Cancelled while the DNAT rule went in: three reads, the filter buckets and rule, the nat buckets and the DNAT
        // rule ran; the hairpin never ran, and everything that did is undone, last first.
        await act.Should().ThrowAsync<OperationCanceledException>();
        Lines().Skip(3 + FilterBuckets.Length + 1 + NatBuckets.Length + 1).Should().Equal(
        [
            "iptables -w 10 -t nat -D NATMAP-T3-30 -p tcp -m tcp --dport 8080 -m comment --comment natmap:docker:web:tcp:0.0.0.0:8080:172.17.0.2:80 -j DNAT --to-destination 172.17.0.2:80",
            .. Unmade(NatBuckets),
            "iptables -w 10 -t filter -D NATMAP-T3-30 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT --ctorigdstport 8080 -m comment --comment natmap:docker:web:tcp:0.0.0.0:8080:172.17.0.2:80 -j ACCEPT",
            .. Unmade(FilterBuckets),
        ]);
    }

    private const string WebComment = "natmap:docker:web:tcp:0.0.0.0:8080:172.17.0.2:80";

    private void HostHasWebAndNeighbours(bool filterRule = true)
    {
        _fake.Script.OutputWhen(CommandMatch.ArgumentsContain("-t", "nat", "-S"),
            "-P PREROUTING ACCEPT\n-N NATMAP\n" +
            $"-A NATMAP -p tcp -m tcp --dport 8080 -m comment --comment \"{WebComment}\" -j DNAT --to-destination 172.17.0.2:80\n" +
            "-A NATMAP -p udp -m udp --dport 8080 -m comment --comment \"natmap:docker:web:udp:0.0.0.0:8080:172.17.0.2:80\" -j DNAT --to-destination 172.17.0.2:80\n" +
            "-A NATMAP -p tcp -m tcp --dport 80 -m comment --comment \"natmap:docker:web:tcp:0.0.0.0:80:172.17.0.2:80\" -j DNAT --to-destination 172.17.0.2:80\n" +
            $"-A POSTROUTING -s 172.17.0.0/16 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m conntrack ! --ctorigdst 172.17.0.2 -m comment --comment \"{WebComment}\" -j MASQUERADE\n" +
            "-A POSTROUTING -o eth0 -j MASQUERADE\n");
        _fake.Script.OutputWhen(CommandMatch.ArgumentsContain("-t", "filter", "-S"),
            "-P FORWARD DROP\n-N NATMAP\n" +
            (filterRule ? $"-A NATMAP -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT --ctorigdstport 8080 -m comment --comment \"{WebComment}\" -j ACCEPT\n" : string.Empty) +
            "-A NATMAP -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT --ctorigdstport 80 -m comment --comment \"natmap:docker:web:tcp:0.0.0.0:80:172.17.0.2:80\" -j ACCEPT\n");
    }

    [Fact]
    public async Task RemoveDockerMap_DeletesExactlyTheRulesCarryingItsComment()
    {
        HostHasWebAndNeighbours();

        await Manager().RemoveDockerMapAsync(Map(), Ct);

        // The hairpin rule was installed when the bridge was known: it goes too, whatever its source network.
        Lines().Should().Equal(
            "iptables -w 10 -t nat -S",
            "iptables -w 10 -t filter -S",
            $"iptables -w 10 -t nat -D NATMAP -p tcp -m tcp --dport 8080 -m comment --comment {WebComment} -j DNAT --to-destination 172.17.0.2:80",
            $"iptables -w 10 -t nat -D POSTROUTING -s 172.17.0.0/16 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m conntrack ! --ctorigdst 172.17.0.2 -m comment --comment {WebComment} -j MASQUERADE",
            $"iptables -w 10 -t filter -D NATMAP -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT --ctorigdstport 8080 -m comment --comment {WebComment} -j ACCEPT");
    }

    [Fact]
    public async Task RemoveDockerMap_RuleAlreadyGone_DeletesTheRest()
    {
        HostHasWebAndNeighbours(filterRule: false);

        await Manager().RemoveDockerMapAsync(Map(), Ct);

        _fake.Commands.Where(c => c.Arguments.Contains("-D")).Should().HaveCount(2);
    }

    [Fact]
    public async Task RemoveDockerMap_RealFailure_PutsBackWhatItDeleted()
    {
        HostHasWebAndNeighbours();
        _fake.Script.FailWhen(CommandMatch.ArgumentsContain("-t", "filter", "-D", "NATMAP"), 4, "Another app is currently holding the xtables lock.", times: 1);

        var act = () => Manager().RemoveDockerMapAsync(Map(), Ct);

        // Each deleted rule goes back at the position it was listed at, last deleted first.
        (await act.Should().ThrowAsync<IptablesCommandException>()).Which.ExitCode.Should().Be(4);
        Lines().Skip(5).Should().Equal(
            $"iptables -w 10 -t nat -I POSTROUTING 1 -s 172.17.0.0/16 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m conntrack ! --ctorigdst 172.17.0.2 -m comment --comment {WebComment} -j MASQUERADE",
            $"iptables -w 10 -t nat -I NATMAP 1 -p tcp -m tcp --dport 8080 -m comment --comment {WebComment} -j DNAT --to-destination 172.17.0.2:80");
    }

    [Fact]
    public async Task InstallDnatSnatHairpin_RouteByFamily()
    {
        var manager = Manager();

        await manager.InstallDnatAsync(new DnatConfig(Ip("2001:db8::5"), Ip("fd00::2"), 443), Ct);
        await manager.InstallSnatAsync(new SnatConfig(Ip("10.0.0.2"), Ip("203.0.113.5"), "eth0"), Ct);
        await manager.InstallHairpinAsync(new HairpinConfig(Ip("2001:db8::5"), Ip("fd00::20"), 80), Ct);

        _fake.Commands.Where(c => c.Arguments.Contains("-A")).Select(c => c.FileName).Should().Equal("ip6tables", "ip6tables", "iptables", "ip6tables", "ip6tables");
    }

    [Fact]
    public async Task AnyOperation_InvalidModel_RunsNoCommand()
    {
        var manager = Manager();
        var mixed = Map() with { HostEndpoint = Ep("[::]:8080") };

        await FluentActions.Awaiting(() => manager.InstallDockerMapAsync(mixed, Ct)).Should().ThrowAsync<ArgumentException>();
        await FluentActions.Awaiting(() => manager.RemoveDockerMapAsync(null!, Ct)).Should().ThrowAsync<ArgumentNullException>();
        await FluentActions.Awaiting(() => manager.InstallDnatAsync(new DnatConfig(Ip("203.0.113.5"), Ip("10.0.0.2"), PortSet.Parse("80,81")) { InternalPort = 80 }, Ct))
            .Should().ThrowAsync<ArgumentException>().Where(e => e.ParamName == "InternalPort");

        _fake.Commands.Should().BeEmpty();
    }

    [Fact]
    public async Task Ipv6Object_Ipv6Disabled_ThrowsBeforeAnyCommand()
    {
        var act = () => Manager(o => o.EnableIpv6 = false).InstallDockerMapAsync(Map("[::]:80", "[fd00::2]:80"), Ct);

        await act.Should().ThrowAsync<InvalidOperationException>().WithMessage("*EnableIpv6*");
        _fake.Commands.Should().BeEmpty();
    }

    [Fact]
    public async Task Options_NamespaceLockWaitAndPrograms_ShapeEveryCommand()
    {
        await Manager(o =>
        {
            o.NetworkNamespace = "lab1";
            o.XtablesLockWait = TimeSpan.FromMilliseconds(2500);
            o.IptablesPath = "iptables-legacy";
        }).InstallSnatAsync(new SnatConfig(Ip("10.0.0.2"), Ip("203.0.113.5"), "eth0"), Ct);

        Lines().Last().Should().Be(
            "ip netns exec lab1 iptables-legacy -w 3 -t nat -A POSTROUTING -s 10.0.0.2/32 -o eth0 -m comment --comment natmap:snat:10.0.0.2:203.0.113.5:eth0 -j SNAT --to-source 203.0.113.5");
    }

    [Fact]
    public async Task Options_NoLockWait_PassesNoW()
    {
        await Manager(o => o.XtablesLockWait = null).RemoveSnatAsync(new SnatConfig(Ip("10.0.0.2"), Ip("203.0.113.5"), "eth0"), Ct);

        _fake.LatestCommand.Arguments[0].Should().Be("-t");
    }

    [Fact]
    public async Task FlushAll_RemovesOwnedRulesJumpsChainsAndTheDockerUserChainItMade()
    {
        _fake.Script.OutputWhen(c => c.FileName == "iptables" && c.Arguments.Contains("filter"),
            "-P FORWARD ACCEPT\n-N DOCKER-USER\n-N NATMAP\n-N FOREIGN\n" +
            "-A FORWARD -m comment --comment \"natmap:setup\" -j DOCKER-USER\n" +
            "-A FORWARD -d 10.0.0.2/32 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT --ctorigdst 203.0.113.5 -m comment --comment \"natmap:dnat:tcp:203.0.113.5:80:10.0.0.2\" -j ACCEPT\n" +
            "-A FORWARD -m comment --comment \"natmapper:other\" -j ACCEPT\n" +
            "-A DOCKER-USER -m comment --comment \"natmap:setup\" -j NATMAP\n" +
            "-A NATMAP -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT --ctorigdstport 8080 -m comment --comment \"natmap:docker:web:tcp:0.0.0.0:8080:172.17.0.2:80\" -j ACCEPT\n");
        _fake.Script.OutputWhen(c => c.FileName == "iptables" && c.Arguments.Contains("nat"),
            "-P PREROUTING ACCEPT\n-N NATMAP\n" +
            "-A PREROUTING -m addrtype --dst-type LOCAL -m comment --comment \"natmap:setup\" -j NATMAP\n" +
            "-A POSTROUTING -s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m conntrack ! --ctorigdst 172.17.0.2 -m comment --comment \"natmap:docker:web:tcp:0.0.0.0:8080:172.17.0.2:80\" -j MASQUERADE\n" +
            "-A POSTROUTING -o eth0 -j MASQUERADE\n");

        await Manager(o => o.EnableIpv6 = false).FlushAllAsync(Ct);

        Lines().Should().Equal(
            "iptables -w 10 -t raw -S",
            "iptables -w 10 -t nat -S",
            "iptables -w 10 -t filter -S",
            "iptables -w 10 -t nat -D PREROUTING -m addrtype --dst-type LOCAL -m comment --comment natmap:setup -j NATMAP",
            "iptables -w 10 -t nat -D POSTROUTING -s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m conntrack ! --ctorigdst 172.17.0.2 -m comment --comment natmap:docker:web:tcp:0.0.0.0:8080:172.17.0.2:80 -j MASQUERADE",
            "iptables -w 10 -t nat -X NATMAP",
            "iptables -w 10 -t filter -D FORWARD -m comment --comment natmap:setup -j DOCKER-USER",
            "iptables -w 10 -t filter -D FORWARD -d 10.0.0.2/32 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT --ctorigdst 203.0.113.5 -m comment --comment natmap:dnat:tcp:203.0.113.5:80:10.0.0.2 -j ACCEPT",
            "iptables -w 10 -t filter -D DOCKER-USER -m comment --comment natmap:setup -j NATMAP",
            "iptables -w 10 -t filter -D NATMAP -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT --ctorigdstport 8080 -m comment --comment natmap:docker:web:tcp:0.0.0.0:8080:172.17.0.2:80 -j ACCEPT",
            "iptables -w 10 -t filter -X NATMAP",
            "iptables -w 10 -t filter -X DOCKER-USER");
    }

    [Fact]
    public async Task FlushAll_DockerOwnsDockerUser_KeepsIt()
    {
        _fake.Script.OutputWhen(CommandMatch.ArgumentsContain("-t", "filter", "-S"),
            "-N DOCKER-USER\n-N NATMAP\n-A FORWARD -j DOCKER-USER\n-A DOCKER-USER -m comment --comment \"natmap:setup\" -j NATMAP\n");

        await Manager(o => o.EnableIpv6 = false).FlushAllAsync(Ct);

        Lines().Should().NotContain(l => l.EndsWith("-X DOCKER-USER", StringComparison.Ordinal));
    }

    [Fact]
    public async Task FlushAll_NothingInstalled_OnlyReadsBothFamilies()
    {
        await Manager().FlushAllAsync(Ct);

        Lines().Should().Equal(
            "iptables -w 10 -t raw -S", "iptables -w 10 -t nat -S", "iptables -w 10 -t filter -S",
            "ip6tables -w 10 -t raw -S", "ip6tables -w 10 -t nat -S", "ip6tables -w 10 -t filter -S");
    }

    [Fact]
    public async Task ReadFailure_ThrowsWithProgramArgvExitCodeAndStderr()
    {
        _fake.Script.FailWhen(CommandMatch.Any, 3, "iptables v1.8.9 (legacy): can't initialize iptables table `nat': Permission denied (you must be root)");

        var act = () => Manager().InstallDockerMapAsync(Map(), Ct);

        var error = (await act.Should().ThrowAsync<IptablesCommandException>()).Which;
        error.Message.Should().Be(
            "iptables exited with code 3." + Environment.NewLine +
            "Command: iptables -w 10 -t nat -S" + Environment.NewLine +
            "Standard error: iptables v1.8.9 (legacy): can't initialize iptables table `nat': Permission denied (you must be root)");
        error.Command.Arguments.Should().Equal("-w", "10", "-t", "nat", "-S");
    }

    [Fact]
    public async Task ConcurrentCalls_RunOneOperationAtATime()
    {
        var manager = Manager();
        var maps = Enumerable.Range(1, 20).Select(i => Map($"0.0.0.0:{8000 + i}", $"172.17.0.{i + 1}:80", id: $"c{i}")).ToList();

        await Task.WhenAll(maps.Select(m => Task.Run(() => manager.InstallDockerMapAsync(m, Ct), Ct)));

        // Each install is a route lookup, two reads, then, on this fake that lists nothing, its three buckets' chains
        // and jumps (three buckets, each a group and a bucket chain, each made with -N and reached by a jump) and its
        // three appends (the lookup runs before the install takes its turn, so it may land anywhere); serialised, the
        // reads and writes of one install never interleave.
        const int perInstall = 2 + (3 * 2 * 2) + 3;
        var groups = _fake.Commands.Where(c => c.FileName == "iptables").Chunk(perInstall).ToList();
        groups.Should().HaveCount(20);
        groups.Should().OnlyContain(g => g.Length == perInstall && g.Take(2).All(c => c.Arguments.Contains("-S")) && g.Skip(2).All(c => !c.Arguments.Contains("-S"))
            && g.Skip(2).Select(c => c.Arguments.LastOrDefault(a => a.StartsWith("natmap:docker:", StringComparison.Ordinal))).OfType<string>().Distinct().Count() == 1
            && g.Count(c => c.Arguments.Any(a => a.StartsWith("natmap:docker:", StringComparison.Ordinal))) == 3);
    }

    [Theory]
    [InlineData("ChainName", "")]
    [InlineData("ChainName", "A_NAME_THAT_IS_TOO_LONG_FOR_IT")]
    [InlineData("CommentPrefix", "nat map")]
    [InlineData("IptablesPath", "")]
    [InlineData("IptablesPath", "-j")]
    [InlineData("NetworkNamespace", "lab 1")]
    [InlineData("XtablesLockWait", "0")]
    [InlineData("CommandTimeout", "5")]
    public void Constructor_InvalidOption_NamesIt(string option, string value)
    {
        var options = new NatMapOptions();
        switch (option)
        {
            case "ChainName": options.ChainName = value; break;
            case "CommentPrefix": options.CommentPrefix = value; break;
            case "IptablesPath": options.IptablesPath = value; break;
            case "NetworkNamespace": options.NetworkNamespace = value; break;
            case "XtablesLockWait": options.XtablesLockWait = TimeSpan.FromSeconds(int.Parse(value, System.Globalization.CultureInfo.InvariantCulture)); break;
            case "CommandTimeout": options.CommandTimeout = TimeSpan.FromSeconds(int.Parse(value, System.Globalization.CultureInfo.InvariantCulture)); break;
        }

        FluentActions.Invoking(() => new IptablesManager(_fake, options)).Should().Throw<ArgumentException>()
            .Where(e => e.ParamName == option && e.Message.StartsWith($"NatMapOptions.{option} is invalid", StringComparison.Ordinal));
    }

    [Fact]
    public void Constructor_CopiesOptions()
    {
        var options = new NatMapOptions();
        var manager = new IptablesManager(_fake, options);

        options.ChainName = "OTHER";

        manager.RuleBuilder.ChainName.Should().Be("NATMAP");
    }
}

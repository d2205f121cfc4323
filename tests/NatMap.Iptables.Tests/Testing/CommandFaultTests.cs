using NatMap.Iptables.Testing;

namespace NatMap.Iptables.Tests.Testing;

/// <summary>
/// <see cref="CommandFault"/> on both fakes: a restore commits exactly its first k tables, then fails in iptables'
/// own words, times out, hangs until cancelled, or has its caller cancelled.
/// </summary>
public sealed class CommandFaultTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string ThreeTables = "*raw\n-N R\nCOMMIT\n*nat\n-N N\nCOMMIT\n*filter\n-N F\nCOMMIT\n";

    private static CommandSpec Restore(string program = "iptables-restore") => new(program, ["--noflush", "-w", "5"], ThreeTables);

    private static string[] Chains(FakeIptables fake) =>
        [.. fake.Save().Split('\n').Where(static l => l is ":R -" or ":N -" or ":F -")];

    [Theory]
    [InlineData(0, new string[0])]
    [InlineData(1, new[] { ":R -" })]
    [InlineData(2, new[] { ":R -", ":N -" })]
    public async Task FailAfterTables_Legacy_CommitsThoseTables_ThenFailsOnTheLockAsIptablesDoes(int tables, string[] committed)
    {
        var fake = new FakeIptables { Backend = FakeIptablesBackend.Legacy };
        _ = fake.Script.FaultAt(1, CommandFault.FailAfterTables(tables));

        var result = await fake.RunAsync(Restore(), Ct);

        result.Should().Be(new CommandResult(4, "",
            "Can't lock /run/xtables.lock: Resource temporarily unavailable\nAnother app is currently holding the xtables lock. Stopped waiting after 5s.\n"));
        Chains(fake).Should().BeEquivalentTo(committed);
    }

    [Fact]
    public async Task FailAfterTables_Nft_NamesTheCommitLineOfTheFirstTableThatDidNotCommit()
    {
        var fake = new FakeIptables();
        _ = fake.Script.FaultAt(1, CommandFault.FailAfterTables(1));

        var result = await fake.RunAsync(Restore(), Ct);

        result.Should().Be(new CommandResult(1, "", "iptables-nft-restore: line 6 failed: No buffer space available.\n"));
        Chains(fake).Should().Equal(":R -");
    }

    [Fact]
    public async Task FailAfterTables_AsManyAsTheInputHas_CommitsAllAndSucceeds()
    {
        var fake = new FakeIptables();
        _ = fake.Script.FaultAt(1, CommandFault.FailAfterTables(3));

        (await fake.RunAsync(Restore(), Ct)).Should().Be(CommandResult.Success);
        Chains(fake).Should().BeEquivalentTo(":R -", ":N -", ":F -");
    }

    [Theory]
    [InlineData(0, new string[0])]
    [InlineData(2, new[] { ":R -", ":N -" })]
    [InlineData(3, new[] { ":R -", ":N -", ":F -" })]
    public async Task TimeOutAfterTables_CommitsThoseTables_ThenThrowsTimeoutException(int tables, string[] committed)
    {
        var fake = new FakeIptables();
        _ = fake.Script.FaultAt(1, CommandFault.TimeOutAfterTables(tables));

        var run = () => fake.RunAsync(Restore(), Ct);

        (await run.Should().ThrowAsync<TimeoutException>()).Which.Message.Should().Contain("iptables-restore --noflush -w 5");
        Chains(fake).Should().BeEquivalentTo(committed);
    }

    [Fact]
    public async Task HangAfterTables_HoldsUntilTheTokenIsCancelled_WithItsTablesCommitted()
    {
        var fake = new FakeIptables();
        _ = fake.Script.FaultAt(1, CommandFault.HangAfterTables(1));
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        var run = fake.RunAsync(Restore(), cts.Token);
        await Task.Delay(50, Ct);

        run.IsCompleted.Should().BeFalse("it hangs until cancelled");
        Chains(fake).Should().Equal(":R -");
        await cts.CancelAsync();
        await FluentActions.Awaiting(() => run).Should().ThrowAsync<OperationCanceledException>();
    }

    [Fact]
    public async Task CancelAfterTables_CancelsTheCallerAfterTheCommit()
    {
        using var caller = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var fake = new FakeIptables();
        _ = fake.Script.FaultAt(1, CommandFault.CancelAfterTables(2, caller));

        var run = () => fake.RunAsync(Restore(), caller.Token);

        await run.Should().ThrowAsync<OperationCanceledException>();
        caller.IsCancellationRequested.Should().BeTrue();
        Chains(fake).Should().BeEquivalentTo(":R -", ":N -");
    }

    [Fact]
    public async Task OtherProcess_ZeroTables_FailsWithoutEffect_MoreTables_TakesEffectThenTimesOut()
    {
        var fake = new FakeIptables();
        _ = fake.Script
            .FaultWhen(CommandMatch.ArgumentsContain("-N", "A"), CommandFault.FailAfterTables(0))
            .FaultWhen(CommandMatch.ArgumentsContain("-N", "B"), CommandFault.TimeOutAfterTables(1));

        var failed = await fake.RunAsync(new CommandSpec("iptables", ["-w", "2", "-t", "nat", "-N", "A"]), Ct);
        var timedOut = () => fake.RunAsync(new CommandSpec("iptables", ["-t", "nat", "-N", "B"]), Ct);

        failed.ExitCode.Should().Be(4);
        failed.StandardError.Should().EndWith("Another app is currently holding the xtables lock. Stopped waiting after 2s.\n");
        await timedOut.Should().ThrowAsync<TimeoutException>();
        fake.Save().Should().NotContain(":A -").And.Contain(":B -");
    }

    [Fact]
    public async Task FaultWhen_StrikesAsManyTimesAsTold()
    {
        var fake = new FakeIptables();
        _ = fake.Script.FaultWhen(CommandMatch.Program("iptables-restore"), CommandFault.TimeOutAfterTables(0), times: 1);

        await FluentActions.Awaiting(() => fake.RunAsync(Restore(), Ct)).Should().ThrowAsync<TimeoutException>();
        (await fake.RunAsync(Restore(), Ct)).Should().Be(CommandResult.Success);
    }

    [Fact]
    public async Task FakeCommandRunner_RecordsTheProcess_ThenEndsItAsTheFaultSays()
    {
        var runner = new FakeCommandRunner();
        _ = runner.Script
            .FaultAt(1, CommandFault.FailAfterTables(1))
            .FaultAt(2, CommandFault.TimeOutAfterTables(3));

        var failed = await runner.RunAsync(Restore(), Ct);
        var timedOut = () => runner.RunAsync(Restore(), Ct);

        failed.ExitCode.Should().Be(4, "two of its three tables never committed");
        await timedOut.Should().ThrowAsync<TimeoutException>();
        runner.Processes.Should().HaveCount(2);
    }

    [Fact]
    public void Factories_RejectNegativeTables_AndNullCaller()
    {
        FluentActions.Invoking(() => CommandFault.FailAfterTables(-1)).Should().Throw<ArgumentOutOfRangeException>();
        FluentActions.Invoking(() => CommandFault.CancelAfterTables(0, null!)).Should().Throw<ArgumentNullException>();
        CommandFault.HangAfterTables(2).Should().Match<CommandFault>(f => f.Kind == CommandFaultKind.Hang && f.CommittedTables == 2);
        CommandFault.TimeOutAfterTables(1).ToString().Should().Be("TimeOut after 1 table(s)");
    }
}

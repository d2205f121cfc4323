using Microsoft.Extensions.DependencyInjection;
using NatMap.Iptables.Testing;

namespace NatMap.Iptables.Tests.Testing;

public sealed class FakeCommandRunnerTests
{
    private static readonly CommandSpec NatList = new("iptables", ["-t", "nat", "-S"]);
    private static readonly CommandSpec FilterList = new("iptables", ["-t", "filter", "-S"]);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task RunAsync_NoScript_RecordsAndSucceedsWithEmptyOutput()
    {
        var fake = new FakeCommandRunner();

        var result = await fake.RunAsync(NatList, Ct);

        result.Should().Be(new CommandResult(0, "", ""));
        fake.Commands.Should().Equal(NatList);
        fake.LatestCommand.Should().Be(new CommandSpec("iptables", ["-t", "nat", "-S"]), "specs compare argument by argument");
    }

    [Fact]
    public void LatestCommand_Empty_ThrowsClearly() =>
        FluentActions.Invoking(() => new FakeCommandRunner().LatestCommand).Should().Throw<InvalidOperationException>()
            .WithMessage("FakeCommandRunner has not run any command yet.");

    [Fact]
    public async Task Scripts_LatestMatchingWins_AndTimesExpire()
    {
        var fake = new FakeCommandRunner();
        _ = fake.Script
            .OutputWhen(CommandMatch.Any, "general")
            .FailWhen(CommandMatch.ArgumentsContain("nat"), 4, "lock", times: 1);

        (await fake.RunAsync(NatList, Ct)).Should().Be(new CommandResult(4, "", "lock"));
        (await fake.RunAsync(NatList, Ct)).StandardOutput.Should().Be("general");
        (await fake.RunAsync(FilterList, Ct)).StandardOutput.Should().Be("general");
    }

    [Fact]
    public async Task RespondUsing_SeesTheCommand()
    {
        var fake = new FakeCommandRunner();
        _ = fake.Script.RespondUsing(CommandMatch.Program("ip6tables"), c => new CommandResult(0, c.Arguments[1], ""));

        (await fake.RunAsync(new CommandSpec("ip", ["netns", "exec", "lab", "ip6tables", "-t", "raw"]), Ct)).StandardOutput.Should().Be("exec");
        (await fake.RunAsync(NatList, Ct)).StandardOutput.Should().BeEmpty();
    }

    [Fact]
    public async Task GetSnapshotAndClear_ForgetCommandsButKeepScripts()
    {
        var fake = new FakeCommandRunner();
        _ = fake.Script.FailWhen(CommandMatch.Any);
        await fake.RunAsync(NatList, Ct);

        fake.GetSnapshot(clear: true).Should().HaveCount(1);
        fake.Count.Should().Be(0);
        (await fake.RunAsync(NatList, Ct)).ExitCode.Should().Be(1);
        fake.Clear();
        fake.Commands.Should().BeEmpty();
        fake.Script.Clear();
        (await fake.RunAsync(NatList, Ct)).ExitCode.Should().Be(0);
    }

    [Fact]
    public async Task DefaultResult_AppliesToUnscriptedCommands()
    {
        var fake = new FakeCommandRunner { DefaultResult = new CommandResult(1, "", "nope") };

        (await fake.RunAsync(NatList, Ct)).StandardError.Should().Be("nope");
    }

    [Fact]
    public async Task RunAsync_Cancelled_Throws()
    {
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await FluentActions.Awaiting(() => new FakeCommandRunner().RunAsync(NatList, cts.Token)).Should().ThrowAsync<OperationCanceledException>();
    }

    [Fact]
    public async Task RunAsync_ManyThreads_RecordsEveryCommand()
    {
        var fake = new FakeCommandRunner();

        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < 500; i++)
            {
                await fake.RunAsync(NatList, Ct);
            }
        }, Ct)));

        fake.Count.Should().Be(4000);
    }

    [Fact]
    public void Arguments_InvalidScripts_Throw()
    {
        var fake = new FakeCommandRunner();

        FluentActions.Invoking(() => fake.Script.FailWhen(CommandMatch.Any, exitCode: 0)).Should().Throw<ArgumentOutOfRangeException>();
        FluentActions.Invoking(() => fake.Script.RespondTo(CommandMatch.Any, CommandResult.Success, times: 0)).Should().Throw<ArgumentOutOfRangeException>();
        FluentActions.Invoking(() => CommandMatch.ArgumentsContain()).Should().Throw<ArgumentException>();
    }

    [Fact]
    public void CommandMatch_ArgumentsContain_MatchesContiguousRunsOnly()
    {
        var spec = new CommandSpec("iptables", ["-t", "nat", "-A", "POSTROUTING"]);

        CommandMatch.ArgumentsContain("nat", "-A").Invoke(spec).Should().BeTrue();
        CommandMatch.ArgumentsContain("-t", "-A").Invoke(spec).Should().BeFalse();
        CommandMatch.ArgumentsContain("POSTROUTING", "x").Invoke(spec).Should().BeFalse();
    }

    [Fact]
    public void GetFakeCommandRunner_NotRegistered_ThrowsClearly()
    {
        using var provider = new ServiceCollection().BuildServiceProvider();

        FluentActions.Invoking(() => provider.GetFakeCommandRunner()).Should().Throw<InvalidOperationException>().WithMessage("*AddFakeCommandRunner*");
    }

    [Fact]
    public async Task FailAt_FailsOnlyThatProcess_CountingFromTheLastClear()
    {
        var fake = new FakeCommandRunner();
        _ = fake.Script.FailAt(2, 4, "lock");

        (await fake.RunAsync(NatList, Ct)).ExitCode.Should().Be(0);
        (await fake.RunAsync(NatList, Ct)).Should().Be(new CommandResult(4, "", "lock"));
        (await fake.RunAsync(NatList, Ct)).ExitCode.Should().Be(0);
        fake.Clear();
        fake.Script.FailAt(1);
        (await fake.RunAsync(FilterList, Ct)).ExitCode.Should().Be(1);
    }

    [Fact]
    public async Task DelayWhen_HoldsTheCommand_AndHonoursCancellation()
    {
        var fake = new FakeCommandRunner();
        _ = fake.Script.DelayWhen(CommandMatch.ArgumentsContain("nat"), TimeSpan.FromSeconds(30), times: 1);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));

        var slow = () => fake.RunAsync(NatList, cts.Token);

        await slow.Should().ThrowAsync<OperationCanceledException>();
        (await fake.RunAsync(NatList, Ct)).ExitCode.Should().Be(0, "the delay was used up");
    }
}

using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using NatMap.Iptables.Testing;

namespace NatMap.Iptables.Tests.Testing;

/// <summary>The one scripting surface both fakes expose as <c>Script</c>.</summary>
public sealed class CommandScriptTests
{
    private static readonly CommandSpec NatList = new("iptables", ["-t", "nat", "-S"]);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Each fake, with its script and its own name (which starts the default failure text).</summary>
    public static TheoryData<string> Fakes => new() { nameof(FakeCommandRunner), nameof(FakeIptables) };

    private static (ICommandRunner Runner, CommandScript Script, Action Clear, Func<int> Processes) Make(string fake)
    {
        if (fake == nameof(FakeCommandRunner))
        {
            var runner = new FakeCommandRunner();
            return (runner, runner.Script, runner.Clear, () => runner.Processes.Count);
        }

        var iptables = new FakeIptables();
        return (iptables, iptables.Script, iptables.Clear, () => iptables.Processes.Count);
    }

    [Theory]
    [MemberData(nameof(Fakes))]
    public async Task DelayWhen_OnAFakeClock_HoldsTheProcessUntilTheClockPassesTheDelay(string fake)
    {
        var (runner, script, _, _) = Make(fake);
        var time = new FakeTimeProvider();
        script.TimeProvider = time;
        _ = script.DelayWhen(CommandMatch.Any, TimeSpan.FromMinutes(10));

        var run = runner.RunAsync(NatList, Ct);
        await Task.Delay(50, Ct);
        run.IsCompleted.Should().BeFalse("ten fake minutes have not passed");
        time.Advance(TimeSpan.FromMinutes(10) - TimeSpan.FromTicks(1));
        await Task.Delay(50, Ct);
        run.IsCompleted.Should().BeFalse("one tick is still to go");
        time.Advance(TimeSpan.FromTicks(1));

        (await run.WaitAsync(TimeSpan.FromSeconds(10), Ct)).ExitCode.Should().Be(0);
    }

    [Theory]
    [MemberData(nameof(Fakes))]
    public async Task FailWhen_NoErrorText_NamesTheFake(string fake)
    {
        var (runner, script, _, _) = Make(fake);
        _ = script.FailWhen(CommandMatch.Any, 2);

        (await runner.RunAsync(NatList, Ct)).Should().Be(new CommandResult(2, "", $"{fake}: scripted failure"));
    }

    [Theory]
    [MemberData(nameof(Fakes))]
    public async Task Clear_NumbersProcessesFromOneAgain_AndKeepsTheScripts(string fake)
    {
        var (runner, script, clear, processes) = Make(fake);
        _ = script.FailWhen(CommandMatch.ArgumentsContain("filter"), 3);
        _ = await runner.RunAsync(NatList, Ct);
        clear();
        _ = script.FailAt(1, 4);

        (await runner.RunAsync(NatList, Ct)).ExitCode.Should().Be(4, "the first process since Clear is number 1");
        (await runner.RunAsync(new CommandSpec("iptables", ["-t", "filter", "-S"]), Ct)).ExitCode.Should().Be(3, "Clear keeps the scripts");
        processes().Should().Be(2);
    }

    [Fact]
    public async Task GetSnapshotClear_ResetsWhatClearResets()
    {
        var fake = new FakeCommandRunner();
        _ = await fake.RunAsync(NatList, Ct);

        fake.GetSnapshot(clear: true).Should().Equal(NatList);
        _ = fake.Script.FailAt(1, 4);

        fake.Commands.Should().BeEmpty();
        fake.Processes.Should().BeEmpty();
        (await fake.RunAsync(NatList, Ct)).ExitCode.Should().Be(4, "the process count starts again at 1, as after Clear");
    }

    [Theory]
    [MemberData(nameof(Fakes))]
    public async Task ScriptClear_RemovesEveryKindOfScript(string fake)
    {
        var (runner, script, _, _) = Make(fake);
        var time = new FakeTimeProvider();
        script.TimeProvider = time;
        _ = script.OutputWhen(CommandMatch.Any, "scripted").FailAt(1).FaultWhen(CommandMatch.Any, CommandFault.TimeOutAfterTables(0), times: null)
            .DelayWhen(CommandMatch.Any, TimeSpan.FromDays(1));

        script.Clear();

        var result = await runner.RunAsync(NatList, Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);

        result.StandardOutput.Should().NotBe("scripted");
        result.ExitCode.Should().Be(0, "no failure, fault or delay is left");
    }

    [Fact]
    public void TimeProvider_Null_Refused() =>
        FluentActions.Invoking(() => new FakeCommandRunner().Script.TimeProvider = null!).Should().Throw<ArgumentNullException>();
}

using System.Diagnostics;
using NatMap.Iptables.Testing;
using NatMap.Iptables.Tests.Reliability;

namespace NatMap.Iptables.Tests.Running;

/// <summary>
/// The manager owns <see cref="NatMapOptions.CommandTimeout"/>: every command it runs, rollback steps included, is
/// bounded whatever the runner, so a hung program cannot hold the operation gate; a restore that committed a table and
/// then timed out is read back and undone; and the options validator allows for one lock wait per table.
/// </summary>
public sealed class CommandTimeoutTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(300);

    private static NatMapOptions ShortTimeout(RuleApplyMode transport = RuleApplyMode.Batch) =>
        new() { CommandTimeout = Short, XtablesLockWait = null, ApplyMode = transport };

    [Theory]
    [InlineData(RuleApplyMode.Batch)]
    [InlineData(RuleApplyMode.PerRule)]
    public async Task HungRunner_WithoutDependencyInjection_TimesOutAtCommandTimeout_AndReleasesTheGate(RuleApplyMode transport)
    {
        // A runner that never answers (as a hung ip, sysctl or iptables would) and has no timeout of its own.
        var runner = new FakeCommandRunner();
        _ = runner.Script.DelayWhen(CommandMatch.Any, TimeSpan.FromHours(1));
        var manager = new IptablesManager(runner, ShortTimeout(transport));
        var watch = Stopwatch.StartNew();

        var setup = () => manager.SetupAsync(Ct);

        (await setup.Should().ThrowAsync<TimeoutException>()).Which.Message.Should()
            .Contain("NatMapOptions.CommandTimeout").And.Contain("sysctl -n net.ipv4.conf.all.route_localnet");
        await setup.Should().ThrowAsync<TimeoutException>("the gate was released, so the next operation runs and times out too");
        watch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Restore_CommitsItsFirstTableThenHangs_TheTimeoutReadsItBackAndUndoesIt()
    {
        // Review item 2: the re-read that finds a partly committed restore ran only for OperationCanceledException.
        var fake = new FakeIptables();
        _ = fake.Script.FaultWhen(CommandMatch.Program("iptables-restore"), CommandFault.HangAfterTables(1));
        var manager = new IptablesManager(fake, ShortTimeout());
        var before = FaultScenarios.State(fake);

        var setup = () => manager.SetupAsync(Ct);

        await setup.Should().ThrowAsync<TimeoutException>();
        fake.Processes.Count(p => p.FileName == "iptables-save").Should().Be(2, "the tables were read again after the timeout");
        FaultScenarios.State(fake).Should().Be(before, "the table that committed before the hang was undone");
    }

    [Theory]
    [InlineData(RuleApplyMode.Batch)]
    [InlineData(RuleApplyMode.PerRule)]
    public async Task Restore_CommitsItsFirstTableThenTheRunnerTimesOut_IsUndone(RuleApplyMode transport)
    {
        // The same with a runner that has its own timeout (CliWrapCommandRunner(timeout)): TimeoutException, not a cancellation.
        var fake = new FakeIptables();
        _ = fake.Script.FaultWhen(CommandMatch.ArgumentsContain("-t", "nat", "-N", "NATMAP"), CommandFault.TimeOutAfterTables(1));
        var manager = new IptablesManager(fake, new NatMapOptions { ApplyMode = transport });

        var setup = () => manager.SetupAsync(Ct);

        await setup.Should().ThrowAsync<TimeoutException>();
        FaultScenarios.State(fake).Should().Be("route_localnet=0");
    }

    [Fact]
    public async Task UndoStepHangs_RollbackStopsAtTheTimeout_AndTheGateIsReleased()
    {
        var fake = new FakeIptables();
        var manager = new IptablesManager(fake, ShortTimeout());
        fake.Script.FailWhen(CommandMatch.ArgumentsContain("-w", "net.ipv4.conf.all.route_localnet=1"), 4, "sysctl: injected", times: 1);
        fake.Script.DelayWhen(c => c.StandardInput?.Contains("-D ", StringComparison.Ordinal) == true, TimeSpan.FromHours(1), times: 1);
        var watch = Stopwatch.StartNew();

        var setup = () => manager.SetupAsync(Ct);

        (await setup.Should().ThrowAsync<IptablesCommandException>("the operation's own failure is reported")).Which.Command.FileName.Should().Be("sysctl");
        watch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(10), "the hung undo was stopped at CommandTimeout");
        FaultScenarios.GuardInvariantHolds(fake, "after the stopped rollback");
        await manager.SetupAsync(Ct);
        FaultScenarios.HasLoopbackGuard(fake).Should().BeTrue();
        fake.GetSysctl(FaultScenarios.RouteLocalnet).Should().Be("1", "the gate was free and Setup completed");
    }

    [Theory]
    [InlineData(10, 30, false)]  // a 3-table restore may wait 3 x 10 s for the lock: 30 s is not enough
    [InlineData(10, 31, true)]
    [InlineData(1, 3, false)]
    [InlineData(1, 4, true)]
    public void Validator_CommandTimeout_MustExceedThreeLockWaits(int lockWaitSeconds, int timeoutSeconds, bool valid)
    {
        var options = new NatMapOptions { XtablesLockWait = TimeSpan.FromSeconds(lockWaitSeconds), CommandTimeout = TimeSpan.FromSeconds(timeoutSeconds) };

        var create = () => new IptablesManager(new FakeCommandRunner(), options);

        if (valid)
        {
            create.Should().NotThrow();
        }
        else
        {
            create.Should().Throw<ArgumentException>().Where(e => e.ParamName == "CommandTimeout" && e.Message.Contains("3 x XtablesLockWait", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Defaults_PassTheValidator()
    {
        var defaults = new NatMapOptions();

        defaults.CommandTimeout.Should().BeGreaterThan(3 * defaults.XtablesLockWait!.Value);
        FluentActions.Invoking(() => new IptablesManager(new FakeCommandRunner())).Should().NotThrow();
    }
}

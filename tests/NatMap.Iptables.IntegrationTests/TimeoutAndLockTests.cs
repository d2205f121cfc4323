using System.Diagnostics;
using NatMap.Iptables.IntegrationTests.Infrastructure;

namespace NatMap.Iptables.IntegrationTests;

/// <summary>
/// A hung iptables is killed at the configured timeout or on cancellation, leaving no process behind; a held xtables
/// lock makes the bounded wait run out with a clear error and no change.
/// </summary>
// Holds /run/xtables.lock, which every namespace shares, and times the bounded wait: run alone.
[Collection(nameof(RunAlone))]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class TimeoutAndLockTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("natmap-hung-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>Fake iptables programs that hang; each sleeps for a length no other process uses, to find it afterwards.</summary>
    private (NatMapOptions Options, string Marker) HungPrograms()
    {
        var marker = $"{Random.Shared.Next(100, 999)}.{Random.Shared.Next(100, 999)}";
        foreach (var name in new[] { "iptables", "iptables-save", "iptables-restore" })
        {
            var path = Path.Combine(_directory, name);
            File.WriteAllText(path, $"#!/bin/sh\nexec sleep {marker}\n");
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        return (new NatMapOptions { IptablesPath = Path.Combine(_directory, "iptables"), EnableIpv6 = false, ManageHostSettings = false }, marker);
    }

    private static async Task ShouldLeaveNoProcessAsync(string marker)
    {
        // The kill is immediate, but give the kernel a moment to reap.
        for (var attempt = 0; attempt < 20; attempt++)
        {
            var result = await new CliWrapCommandRunner().RunAsync(new CommandSpec("pgrep", ["-f", $"sleep {marker}"]), CancellationToken.None);
            if (result.ExitCode == 1)
            {
                return;
            }

            await Task.Delay(100, CancellationToken.None);
        }

        Assert.Fail($"A hung process (sleep {marker}) is still running.");
    }

    [Theory]
    [InlineData(RuleApplyMode.Batch)]
    [InlineData(RuleApplyMode.PerRule)]
    public async Task HungIptables_IsKilledAtTheTimeout(RuleApplyMode transport)
    {
        var (options, marker) = HungPrograms();
        options.ApplyMode = transport;
        var manager = new IptablesManager(new CliWrapCommandRunner(TimeSpan.FromSeconds(1)), options);
        var watch = Stopwatch.StartNew();

        var setup = () => manager.SetupAsync(Ct);

        (await setup.Should().ThrowAsync<TimeoutException>()).Which.Message.Should().Contain("killed").And.Contain(_directory);
        watch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(10));
        await ShouldLeaveNoProcessAsync(marker);
    }

    [Fact]
    public async Task HungIptables_RunnerWithoutTimeout_IsKilledAtTheManagersCommandTimeout()
    {
        // Without DI and with a runner that has no timeout of its own, the manager still bounds every command.
        var (options, marker) = HungPrograms();
        options.CommandTimeout = TimeSpan.FromSeconds(1);
        options.XtablesLockWait = null;
        var manager = new IptablesManager(new CliWrapCommandRunner(), options);
        var watch = Stopwatch.StartNew();

        var setup = () => manager.SetupAsync(Ct);

        (await setup.Should().ThrowAsync<TimeoutException>()).Which.Message.Should().Contain("NatMapOptions.CommandTimeout").And.Contain(_directory);
        watch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(10));
        await ShouldLeaveNoProcessAsync(marker);
    }

    [Fact]
    public async Task HungIptables_CancelledOperation_KillsIt()
    {
        var (options, marker) = HungPrograms();
        var manager = new IptablesManager(new CliWrapCommandRunner(TimeSpan.FromMinutes(5)), options);
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cancellation.CancelAfter(TimeSpan.FromMilliseconds(500));

        var install = () => manager.InstallDnatAsync(new DnatConfig(System.Net.IPAddress.Parse("203.0.113.5"), System.Net.IPAddress.Parse("10.0.0.2"), 80), cancellation.Token);

        await install.Should().ThrowAsync<OperationCanceledException>();
        await ShouldLeaveNoProcessAsync(marker);
    }

    [Fact]
    public async Task HeldXtablesLock_BoundedWaitRunsOut_WithAClearErrorAndNoChange()
    {
        // The legacy backend takes /run/xtables.lock (the nft backend needs no lock). Another program holds it for 6 s.
        await using var ns = await TestNamespace.CreateAsync("legacy");
        var manager = ns.Manager(o => o.XtablesLockWait = TimeSpan.FromSeconds(1));
        var before = await ns.SaveAsync();
        using var holder = Process.Start(new ProcessStartInfo("flock", ["-x", "/run/xtables.lock", "sleep", "6"]))!;
        await Task.Delay(300, Ct);
        var watch = Stopwatch.StartNew();

        var setup = () => manager.SetupAsync(Ct);

        var error = (await setup.Should().ThrowAsync<IptablesCommandException>()).Which;
        error.ExitCode.Should().Be(4);
        error.Message.Should().Contain("xtables lock").And.Contain("NatMapOptions.XtablesLockWait");
        watch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(5), "the wait is bounded at 1 s, not the 6 s the lock is held");
        holder.Kill();
        await holder.WaitForExitAsync(Ct);
        (await ns.SaveAsync()).Should().Be(before);
    }
}

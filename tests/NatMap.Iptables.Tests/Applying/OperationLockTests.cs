using NatMap.Iptables.Internal;
using NatMap.Iptables.Testing;
using static NatMap.Iptables.Tests.TestData;

namespace NatMap.Iptables.Tests.Applying;

/// <summary>Review item 3: the cross-process lock that keeps two managers from both reading "missing" and both adding.</summary>
public sealed class OperationLockTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"natmap-lock-{Guid.NewGuid():N}");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public void PathFor_OwnNamespace_IsNamedAfterItsInode()
    {
        // /proc/self/ns/net reads "net:[INODE]"; the lock is named after the namespace, not after how it was reached.
        var inode = new FileInfo("/proc/self/ns/net").LinkTarget!.Trim('n', 'e', 't', ':', '[', ']');

        OperationLock.PathFor("/run/natmap", null).Should().Be($"/run/natmap/net-{inode}.lock");
    }

    [Fact]
    public void PathFor_NamespaceThatCannotBeOpened_FallsBackToItsName()
    {
        var missing = $"natmap-missing-{Guid.NewGuid():N}";
        var tooLong = new string('n', 201);

        OperationLock.PathFor("/run/natmap", missing).Should().Be($"/run/natmap/netns-{missing}.lock");
        Path.GetFileName(OperationLock.PathFor("/run/natmap", tooLong)).Should().MatchRegex("^netns-[0-9A-F]{64}\\.lock$");
    }

    [Fact]
    public async Task Acquire_HeldElsewhere_WaitsUntilReleased()
    {
        var path = OperationLock.PathFor(_directory, "a");
        var first = await OperationLock.AcquireAsync(path, TimeSpan.FromSeconds(5), Ct);
        first.Should().NotBeNull();

        var second = OperationLock.AcquireAsync(path, TimeSpan.FromSeconds(5), Ct);
        await Task.Delay(100, Ct);
        second.IsCompleted.Should().BeFalse("the lock is held");
        await first!.DisposeAsync();

        await using var taken = await second;
        taken.Should().NotBeNull();
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Acquire_MakesTheDirectoryAndFileOwnerOnly()
    {
        var path = OperationLock.PathFor(_directory, "c");

        await using (await OperationLock.AcquireAsync(path, TimeSpan.FromSeconds(5), Ct))
        {
        }

        // flock needs no write access: a file others could open would let any local user hold every operation up.
        File.GetUnixFileMode(_directory).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.GetUnixFileMode(path).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    [Fact]
    public async Task Acquire_HeldLongerThanTheWait_TimesOutNamingTheFile()
    {
        var path = OperationLock.PathFor(_directory, "b");
        await using var held = await OperationLock.AcquireAsync(path, TimeSpan.FromSeconds(5), Ct);

        var act = () => OperationLock.AcquireAsync(path, TimeSpan.FromMilliseconds(50), Ct);

        (await act.Should().ThrowAsync<TimeoutException>()).Which.Message.Should().Contain(path);
    }

    [Fact]
    public async Task Acquire_DirectoryCannotBeMade_RunsUnlocked()
    {
        var file = Path.Combine(_directory, "file");
        Directory.CreateDirectory(_directory);
        await File.WriteAllTextAsync(file, "not a directory", Ct);

        (await OperationLock.AcquireAsync(Path.Combine(file, "x.lock"), TimeSpan.FromSeconds(1), Ct)).Should().BeNull();
    }

    [Theory]
    [InlineData(true)]  // with the lock, the second install reads after the first wrote: one copy of each rule, no failure
    [InlineData(false)] // without it (the premise): both read "missing"; the held-back write then finds its bucket chains made
    public async Task TwoManagers_InstallTheSameMappingAtOnce_OneCopyOnlyWithTheLock(bool locked)
    {
        var host = new FakeIptables();
        var options = new NatMapOptions { EnableIpv6 = false };
        IptablesManager NewManager() => new(host, options, null, null, locked ? _directory : null);
        var first = NewManager();
        var second = NewManager();
        await first.SetupAsync(Ct);
        host.Script.DelayWhen(CommandMatch.Program("iptables-restore"), TimeSpan.FromMilliseconds(300), times: 1);

        var slow = first.InstallDockerMapAsync(Map(), Ct); // has read, its write is held back
        await Task.Delay(100, Ct);
        await second.InstallDockerMapAsync(Map(), Ct);
        var raced = await Record.ExceptionAsync(() => slow);

        if (locked)
        {
            raced.Should().BeNull();
        }
        else
        {
            raced.Should().BeOfType<IptablesCommandException>().Which.StandardError.Should().Contain("Chain already exists");
        }

        host.Save().Split('\n').Count(l => l.Contains("natmap:docker:web:", StringComparison.Ordinal)).Should().Be(3);
    }
}

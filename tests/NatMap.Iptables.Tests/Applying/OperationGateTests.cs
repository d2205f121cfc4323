using NatMap.Iptables.Testing;
using static NatMap.Iptables.Tests.TestData;

namespace NatMap.Iptables.Tests.Applying;

/// <summary>
/// The manager's gate: one mutating operation at a time. The emulator holds every read for a few milliseconds, so
/// operations that were not serialised would overlap; a runner records, for each call, when its first iptables process
/// started and its last one ended, and no two calls' spans may overlap.
/// </summary>
public sealed class OperationGateTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<RuleApplyMode> Transports => new() { RuleApplyMode.Batch, RuleApplyMode.PerRule };

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task ConcurrentOperations_SlowReads_NeverOverlap(RuleApplyMode transport)
    {
        var fake = new FakeIptables();
        _ = fake.Script.DelayWhen(IsRead, TimeSpan.FromMilliseconds(3));
        var runner = new SpanRecordingRunner(fake);
        var manager = new IptablesManager(runner, new NatMapOptions { ApplyMode = transport });
        await runner.AsCallAsync(() => manager.SetupAsync(Ct));

        // Six callers, each installing, syncing, removing and setting up again: every kind of read-then-write.
        await Task.WhenAll(Enumerable.Range(0, 6).Select(caller => Task.Run(async () =>
        {
            for (var round = 0; round < 4; round++)
            {
                var map = Map($"0.0.0.0:{8000 + (caller * 10) + round}", $"172.17.{caller}.{round + 2}:80", id: $"c{caller}r{round}");
                await runner.AsCallAsync(() => manager.InstallDockerMapAsync(map, Ct));
                await runner.AsCallAsync(() => manager.SyncAsync(new NatMapState { DockerMaps = [map] }, Ct));
                await runner.AsCallAsync(() => manager.RemoveDockerMapAsync(map, Ct));
                await runner.AsCallAsync(() => manager.SetupAsync(Ct));
            }
        }, Ct)));

        var spans = runner.Spans();
        spans.Should().HaveCount(1 + (6 * 4 * 4), "every call ran iptables");
        spans.Zip(spans.Skip(1)).Should().AllSatisfy(pair => pair.Second.FirstStart.Should().BeGreaterThan(
            pair.First.LastEnd, $"call {pair.Second.Call} started its first iptables process while call {pair.First.Call} still had one to finish"));
        runner.Errors.Should().BeEmpty();
        (await manager.ListAsync(Ct)).DockerMaps.Should().BeEmpty();
    }

    private static bool IsRead(CommandSpec command) =>
        command.Arguments.Contains("-S") || command.FileName.EndsWith("-save", StringComparison.Ordinal);

    /// <summary>Orders the start and end of every iptables process of a call on one counter, so spans compare exactly.</summary>
    private sealed class SpanRecordingRunner(ICommandRunner inner) : ICommandRunner
    {
        private readonly AsyncLocal<int> _call = new();
        private readonly object _lock = new();
        private readonly Dictionary<int, (long FirstStart, long LastEnd)> _spans = [];
        private long _clock;
        private int _calls;

        /// <summary>Gets the calls that threw; recorded rather than thrown, so an overlap is reported as one first.</summary>
        public System.Collections.Concurrent.ConcurrentQueue<Exception> Errors { get; } = new();

        public async Task AsCallAsync(Func<Task> operation)
        {
            _call.Value = Interlocked.Increment(ref _calls);
            try
            {
                await operation();
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                Errors.Enqueue(exception);
            }
        }

        public IReadOnlyList<(int Call, long FirstStart, long LastEnd)> Spans()
        {
            lock (_lock)
            {
                return [.. _spans.Select(s => (s.Key, s.Value.FirstStart, s.Value.LastEnd)).OrderBy(s => s.FirstStart)];
            }
        }

        public async Task<CommandResult> RunAsync(CommandSpec command, CancellationToken cancellationToken = default)
        {
            // Only the iptables programs: a Docker mapping's route lookup (ip) runs before the operation takes its turn.
            if (!command.FileName.StartsWith("ip", StringComparison.Ordinal) || !command.FileName.Contains("tables", StringComparison.Ordinal))
            {
                return await inner.RunAsync(command, cancellationToken);
            }

            var call = _call.Value;
            var start = Interlocked.Increment(ref _clock);
            try
            {
                return await inner.RunAsync(command, cancellationToken);
            }
            finally
            {
                var end = Interlocked.Increment(ref _clock);
                lock (_lock)
                {
                    _spans[call] = _spans.TryGetValue(call, out var span) ? (Math.Min(span.FirstStart, start), Math.Max(span.LastEnd, end)) : (start, end);
                }
            }
        }
    }
}

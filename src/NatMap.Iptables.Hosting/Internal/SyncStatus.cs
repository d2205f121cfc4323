namespace NatMap.Iptables.Hosting.Internal;

/// <summary>What the hosted sync has done so far, shared with the health check. Thread-safe.</summary>
internal sealed class SyncStatus
{
    private readonly object _lock = new();
    private Snapshot _current = new();

    public Snapshot Current
    {
        get
        {
            lock (_lock)
            {
                return _current;
            }
        }
    }

    /// <summary>Records a read-and-sync.</summary>
    public void Synced(SyncOutcome outcome, DateTimeOffset at, string? error)
    {
        lock (_lock)
        {
            var s = _current;
            _current = outcome switch
            {
                SyncOutcome.Success => s with
                {
                    Syncs = s.Syncs + 1,
                    LastSync = at,
                    SourceProblem = null,
                    SourceError = null,
                    Failing = false,
                    ConsecutiveFailures = 0,
                    LastError = null,
                    RepairPending = false,
                },
                SyncOutcome.Rejected => s with { Rejections = s.Rejections + 1, SourceProblem = outcome, SourceError = error },
                SyncOutcome.Unreachable => s with { Unreachable = s.Unreachable + 1, SourceProblem = outcome, SourceError = error },
                _ => s with { Failures = s.Failures + 1, Failing = true, ConsecutiveFailures = s.ConsecutiveFailures + 1, LastError = error },
            };
        }
    }

    /// <summary>Records a check of the chains and jumps: passed, repaired, or failed (the repair is then pending).</summary>
    public void Checked(bool repaired, DateTimeOffset at, string? error)
    {
        lock (_lock)
        {
            var s = _current;
            _current = error is null
                ? s with
                {
                    Checks = s.Checks + 1,
                    Repairs = repaired ? s.Repairs + 1 : s.Repairs,
                    LastCheck = at,
                    RepairPending = false,
                    Failing = false,
                    ConsecutiveFailures = 0,
                    LastError = null,
                }
                : s with
                {
                    Checks = s.Checks + 1,
                    LastCheck = at,
                    RepairPending = true,
                    Failing = true,
                    Failures = s.Failures + 1,
                    ConsecutiveFailures = s.ConsecutiveFailures + 1,
                    LastError = error,
                };
        }
    }

    /// <summary>An immutable view of the status.</summary>
    internal sealed record Snapshot
    {
        public long Syncs { get; init; }

        public long Failures { get; init; }

        public long Rejections { get; init; }

        public long Unreachable { get; init; }

        public long Checks { get; init; }

        public long Repairs { get; init; }

        public DateTimeOffset? LastSync { get; init; }

        public DateTimeOffset? LastCheck { get; init; }

        /// <summary>Gets <see cref="SyncOutcome.Rejected"/> or <see cref="SyncOutcome.Unreachable"/> while the source's latest state is not applied for that reason.</summary>
        public SyncOutcome? SourceProblem { get; init; }

        public string? SourceError { get; init; }

        /// <summary>Gets a value indicating whether the latest sync or check failed.</summary>
        public bool Failing { get; init; }

        public int ConsecutiveFailures { get; init; }

        public string? LastError { get; init; }

        /// <summary>Gets a value indicating whether a check failed, so the host may lack rules until the next one passes.</summary>
        public bool RepairPending { get; init; }
    }
}

namespace NatMap.Iptables.Hosting.Internal;

/// <summary>How one read-and-sync of the desired state ended.</summary>
internal enum SyncOutcome
{
    /// <summary>The host matches the state read.</summary>
    Success,

    /// <summary>The state failed validation; the last good state stays applied.</summary>
    Rejected,

    /// <summary>The source could not be read; the last good state stays applied.</summary>
    Unreachable,

    /// <summary>The sync (or Setup) failed; what it applied was undone.</summary>
    Failure,
}

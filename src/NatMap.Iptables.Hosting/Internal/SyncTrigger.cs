namespace NatMap.Iptables.Hosting.Internal;

/// <summary>What started a read-and-sync.</summary>
internal enum SyncTrigger
{
    /// <summary>The host started.</summary>
    Start,

    /// <summary>The source signalled a change.</summary>
    Change,

    /// <summary>The last read or sync failed and the check interval came round.</summary>
    Retry,
}

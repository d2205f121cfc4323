namespace NatMap.Iptables.Hosting;

/// <summary>Settings of the hosted sync that <c>AddNatMapHostedSync</c> registers. Validated at host start-up.</summary>
public sealed class NatMapHostedSyncOptions
{
    /// <summary>
    /// Gets or sets how long the state source must stay quiet after a change before the host syncs to it, so that an
    /// editor's burst of writes, or a configuration reload that fires twice, costs one sync.
    /// </summary>
    /// <value>The default is 1 second. Zero syncs at once; at most 1 minute.</value>
    public TimeSpan Debounce { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Gets or sets how often the host checks that the library's chains and jumps are still there (the
    /// <see cref="NatMapMonitor"/>'s check) and puts the last good state back when another tool flushed them. A read of
    /// the source or a sync that failed is retried at the same interval.
    /// </summary>
    /// <value>The default is 5 seconds. Greater than zero.</value>
    public TimeSpan CheckInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Gets or sets every how many checks the host also syncs the whole last good state, which puts back single rules
    /// that another tool deleted while leaving the chains alone.
    /// </summary>
    /// <value>The default is 12 (once a minute with the default interval). At least 1.</value>
    public int FullSyncEvery { get; set; } = 12;

    /// <summary>
    /// Gets or sets a value indicating whether the host removes everything the library owns (FlushAll) when it stops.
    /// </summary>
    /// <value>
    /// The default is <see langword="false"/>: the rules stay, so published ports keep carrying traffic across a restart
    /// or an upgrade of the service, and the next start syncs from them without a gap.
    /// </value>
    public bool FlushOnStop { get; set; }
}

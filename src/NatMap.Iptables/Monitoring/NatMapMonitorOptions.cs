namespace NatMap.Iptables;

/// <summary>Settings of a <see cref="NatMapMonitor"/>.</summary>
public sealed class NatMapMonitorOptions
{
    /// <summary>Gets or sets how often the monitor looks for its chains and jumps. Default: 5 seconds.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Gets or sets every how many checks the monitor also syncs the whole desired state, to put back single rules
    /// that another tool deleted while leaving the chains and jumps alone. Default: 12 (once a minute with the
    /// default interval); 1 syncs at every check.
    /// </summary>
    public int FullSyncEvery { get; set; } = 12;
}

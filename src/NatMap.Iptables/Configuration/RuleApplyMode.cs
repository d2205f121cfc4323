namespace NatMap.Iptables;

/// <summary>How <see cref="IptablesManager"/> applies the rule changes of an operation.</summary>
public enum RuleApplyMode
{
    /// <summary>
    /// The default: one <c>iptables-restore --noflush</c> (<c>ip6tables-restore</c>) process per address family and
    /// operation, fed the changes on standard input. Each table commits atomically, and the time an operation takes
    /// no longer grows with the number of rules it writes.
    /// </summary>
    Batch = 0,

    /// <summary>
    /// One <c>iptables</c> process per rule change, for hosts without <c>iptables-restore</c> and <c>iptables-save</c>.
    /// Changes already made are undone when a later one fails.
    /// </summary>
    PerRule = 1,
}

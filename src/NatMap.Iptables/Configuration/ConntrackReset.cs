namespace NatMap.Iptables;

/// <summary>
/// Which connection-tracking entries <see cref="IptablesManager"/> deletes when it installs or removes a port
/// translation, so that flows the kernel already tracks follow the change at once.
/// </summary>
/// <remarks>
/// Netfilter translates only the first packet of a flow; every later packet follows the flow's conntrack entry. A
/// UDP client that keeps its source port would go on reaching a removed mapping's container, and a client that was
/// already sending to the host port would never reach a newly installed one, until the entry idles out (30 seconds
/// unanswered, 120 seconds once both sides spoke). Deleting the entries makes the next packet a new flow.
/// </remarks>
public enum ConntrackReset
{
    /// <summary>Leaves conntrack alone: existing flows keep their old path until their entries time out.</summary>
    None = 0,

    /// <summary>
    /// The default: deletes the UDP flows addressed to the host port (and host address, when the object is bound to
    /// one) of each Docker mapping or static DNAT that an operation installs or removes. Established TCP connections
    /// are left as Docker leaves them: they keep the path they started on until they close.
    /// </summary>
    Udp = 1,

    /// <summary>Deletes TCP flows as well, which cuts established TCP connections to the changed ports.</summary>
    UdpAndTcp = 2,
}

using System.Net;

namespace NatMap.Iptables.Testing;

/// <summary>What <see cref="FakeIptables.Trace"/> found a packet would go through.</summary>
/// <param name="Steps">
/// Every rule that matched, in order, as <c>TABLE CHAIN: -A CHAIN …</c>, and the routing decisions
/// (<c>route: …</c>), ending with the verdict.
/// </param>
/// <param name="FinalDestination">The destination after any DNAT.</param>
/// <param name="FinalSource">The source after any SNAT or MASQUERADE.</param>
/// <param name="Masqueraded">Whether SNAT or MASQUERADE rewrote the source.</param>
/// <param name="Dropped">Whether a rule, a chain policy or the kernel's routing dropped the packet.</param>
/// <param name="DeliveredLocally">Whether the packet ends at the host itself rather than leaving it.</param>
/// <param name="OutInterface">The interface the packet leaves by, or <see langword="null"/> when it is dropped or delivered locally.</param>
public sealed record PacketTrace(
    IReadOnlyList<string> Steps,
    IPEndPoint FinalDestination,
    IPAddress FinalSource,
    bool Masqueraded,
    bool Dropped,
    bool DeliveredLocally,
    string? OutInterface);

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
/// <remarks>
/// Two traces are equal when every property is, and <see cref="Steps"/> holds the same steps in the same order: the
/// steps are a path, so the same rules met in another order are another trace. <c>==</c> compares the same way.
/// </remarks>
public sealed record PacketTrace(
    IReadOnlyList<string> Steps,
    IPEndPoint FinalDestination,
    IPAddress FinalSource,
    bool Masqueraded,
    bool Dropped,
    bool DeliveredLocally,
    string? OutInterface)
{
    /// <summary>Returns whether <paramref name="other"/> has the same steps, in the same order, and the same outcome.</summary>
    /// <param name="other">The trace to compare with.</param>
    /// <returns><see langword="true"/> when every property is equal and the steps are equal one by one.</returns>
    public bool Equals(PacketTrace? other) =>
        other is not null
        && (ReferenceEquals(this, other)
            || (Steps.SequenceEqual(other.Steps, StringComparer.Ordinal)
                && FinalDestination.Equals(other.FinalDestination)
                && FinalSource.Equals(other.FinalSource)
                && Masqueraded == other.Masqueraded
                && Dropped == other.Dropped
                && DeliveredLocally == other.DeliveredLocally
                && string.Equals(OutInterface, other.OutInterface, StringComparison.Ordinal)));

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = default(HashCode);
        foreach (var step in Steps)
        {
            hash.Add(step, StringComparer.Ordinal);
        }

        hash.Add(FinalDestination);
        hash.Add(FinalSource);
        hash.Add(Masqueraded);
        hash.Add(Dropped);
        hash.Add(DeliveredLocally);
        hash.Add(OutInterface, StringComparer.Ordinal);
        return hash.ToHashCode();
    }
}

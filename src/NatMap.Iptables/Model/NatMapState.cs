namespace NatMap.Iptables;

/// <summary>The objects the library owns on a host, as <see cref="IIptablesManager.ListAsync"/> reads them back.</summary>
/// <remarks>
/// Two states are equal when each list holds the same objects the same number of times, in any order: a state is a set
/// of objects, as <see cref="IIptablesManager.SyncAsync"/> treats it, so a listing read back from the host equals the
/// desired state it was synced from whatever order the host keeps its rules in. <c>==</c> compares the same way.
/// </remarks>
public sealed record NatMapState
{
    /// <summary>Gets the Docker-style port mappings.</summary>
    /// <value>The default is empty.</value>
    public IReadOnlyList<DockerPortMap> DockerMaps { get; init; } = [];

    /// <summary>Gets the static DNATs.</summary>
    /// <value>The default is empty.</value>
    public IReadOnlyList<DnatConfig> Dnats { get; init; } = [];

    /// <summary>Gets the static SNATs.</summary>
    /// <value>The default is empty.</value>
    public IReadOnlyList<SnatConfig> Snats { get; init; } = [];

    /// <summary>Gets the hairpin NATs.</summary>
    /// <value>The default is empty.</value>
    public IReadOnlyList<HairpinConfig> Hairpins { get; init; } = [];

    /// <summary>Returns whether <paramref name="other"/> holds the same objects, each as many times, in any order.</summary>
    /// <param name="other">The state to compare with.</param>
    /// <returns><see langword="true"/> when every list holds the same objects as its counterpart.</returns>
    public bool Equals(NatMapState? other) =>
        other is not null
        && (ReferenceEquals(this, other)
            || (SameObjects(DockerMaps, other.DockerMaps)
                && SameObjects(Dnats, other.Dnats)
                && SameObjects(Snats, other.Snats)
                && SameObjects(Hairpins, other.Hairpins)));

    /// <inheritdoc/>
    public override int GetHashCode() =>
        HashCode.Combine(HashOf(DockerMaps), HashOf(Dnats), HashOf(Snats), HashOf(Hairpins));

    private static bool SameObjects<T>(IReadOnlyList<T> left, IReadOnlyList<T> right)
        where T : class
    {
        if (left.Count != right.Count)
        {
            return false;
        }

        var counts = new Dictionary<T, int>(left.Count);
        foreach (var item in left)
        {
            counts[item] = counts.GetValueOrDefault(item) + 1;
        }

        foreach (var item in right)
        {
            if (!counts.TryGetValue(item, out var count) || count == 0)
            {
                return false;
            }

            counts[item] = count - 1;
        }

        return true;
    }

    /// <summary>A hash that ignores order (a sum of the items' hashes) but counts repeats.</summary>
    private static int HashOf<T>(IReadOnlyList<T> items)
        where T : class
    {
        var sum = 0;
        foreach (var item in items)
        {
            sum = unchecked(sum + item.GetHashCode());
        }

        return HashCode.Combine(items.Count, sum);
    }
}

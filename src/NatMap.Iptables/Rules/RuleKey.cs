namespace NatMap.Iptables.Internal;

/// <summary>
/// Identifies a rule by table, chain and specification, compared token by token (ordinal), so a set of thousands of
/// rules needs no joined key strings. The hash is computed once, when the key is made.
/// </summary>
internal readonly struct RuleKey : IEquatable<RuleKey>
{
    private readonly int _hash;

    public RuleKey(string table, string chain, IReadOnlyList<string> specification)
    {
        Table = table;
        Chain = chain;
        Specification = specification;
        var hash = default(HashCode);
        hash.Add(table, StringComparer.Ordinal);
        hash.Add(chain, StringComparer.Ordinal);
        for (var i = 0; i < specification.Count; i++)
        {
            hash.Add(specification[i], StringComparer.Ordinal);
        }

        _hash = hash.ToHashCode();
    }

    public string Table { get; }

    public string Chain { get; }

    public IReadOnlyList<string> Specification { get; }

    public bool Equals(RuleKey other)
    {
        if (_hash != other._hash
            || !string.Equals(Table, other.Table, StringComparison.Ordinal)
            || !string.Equals(Chain, other.Chain, StringComparison.Ordinal)
            || Specification.Count != other.Specification.Count)
        {
            return false;
        }

        for (var i = 0; i < Specification.Count; i++)
        {
            if (!string.Equals(Specification[i], other.Specification[i], StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    public override bool Equals(object? obj) => obj is RuleKey other && Equals(other);

    public override int GetHashCode() => _hash;
}

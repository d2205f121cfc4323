namespace NatMap.Iptables.Rules;

/// <summary>
/// A node of the library's port dispatch (see <see cref="NatRuleBuilder.BuildDispatchJumps"/>): a group of 2,048 ports
/// of one protocol (<see cref="Bucket"/> is -1), or a bucket of 64 ports within one, under the nat and filter chain or,
/// with <see cref="Postrouting"/>, under the nat <c>POSTROUTING</c> chain.
/// </summary>
internal readonly record struct PortBucket(bool Postrouting, char Letter, int Group, int Bucket) : IComparable<PortBucket>
{
    /// <summary>How many groups a protocol has, and how many buckets a group has.</summary>
    public const int Count = 32;

    private const int GroupBits = 11;
    private const int BucketBits = 6;

    /// <summary>The protocol's iptables name.</summary>
    public string Protocol => Letter == 'T' ? "tcp" : "udp";

    /// <summary>The ports it holds, first and last; port 0, which is never mapped, is left out of the first group.</summary>
    public (int First, int Last) Ports
    {
        get
        {
            var first = (Group << GroupBits) + (Bucket < 0 ? 0 : Bucket << BucketBits);
            var last = first + (1 << (Bucket < 0 ? GroupBits : BucketBits)) - 1;
            return (Math.Max(first, NatMapLimits.MinPort), last);
        }
    }

    /// <summary>The order of jumps within a chain: tcp before udp, then by ports (a group before its buckets).</summary>
    public int CompareTo(PortBucket other) =>
        (Postrouting, Letter, Group, Bucket).CompareTo((other.Postrouting, other.Letter, other.Group, other.Bucket));

    /// <summary>The bucket of a port.</summary>
    public static PortBucket Of(TransportProtocol protocol, int port, bool postrouting) =>
        new(postrouting, protocol == TransportProtocol.Udp ? 'U' : 'T', port >> GroupBits, (port >> BucketBits) & (Count - 1));
}

using System.Net.Sockets;

namespace NatMap.Iptables.Nftables;

/// <summary>
/// The names and constants of the library's one <c>inet</c> table: its chains, maps and the conntrack mark bits. One
/// place, so the renderer and the parser cannot disagree. See <c>docs/nftables.md</c> for what each one does.
/// </summary>
internal static class NftSchema
{
    /// <summary>The default table name.</summary>
    public const string DefaultTable = "natmap";

    /// <summary>The suffix of the second table's name, which holds the static objects' rules.</summary>
    public const string StaticTableSuffix = "-static";

    /// <summary>The family of the table: one table carries IPv4 and IPv6, so one transaction changes both atomically.</summary>
    public const string Family = "inet";

    /// <summary>The table's comment, for people who list the ruleset (nft 1.0.6 leaves it out of its JSON, so ownership is read from the Setup rules).</summary>
    public const string TableComment = "natmap: managed by NatMap.Iptables; deleting this table removes everything it wrote";

    /// <summary>raw prerouting: drops packets to 127.0.0.0/8 that did not arrive on <c>lo</c>.</summary>
    public const string GuardChain = "guard";

    /// <summary>nat prerouting (dstnat): dispatches local destinations to <see cref="MappingsChain"/>, then the static DNAT and hairpin rules.</summary>
    public const string PreroutingChain = "prerouting";

    /// <summary>nat output (dstnat): host-local connections to local destinations go to <see cref="MappingsChain"/>.</summary>
    public const string OutputChain = "output";

    /// <summary>The regular chain of four map lookups, one per map: bound before unbound, IPv4 and IPv6.</summary>
    public const string MappingsChain = "mappings";

    /// <summary>filter prerouting after dstnat: marks translated connections that go back out the interface they came in on.</summary>
    public const string HairpinChain = "hairpin";

    /// <summary>nat postrouting (srcnat): loopback and hairpin masquerade, then the static SNAT and hairpin rules.</summary>
    public const string PostroutingChain = "postrouting";

    /// <summary>
    /// The static table's regular chain (never jumped to) whose one rule's comment carries the digest of the mappings
    /// the last Sync wrote (<see cref="DigestCommentPrefix"/>): a Sync to the same state then reads only the chain list
    /// and the small static table, not every map element. Every change of a mapping empties the chain in its transaction.
    /// </summary>
    public const string StateChain = "synced";

    /// <summary>The comment prefix of the digest rule in <see cref="StateChain"/>; the rest is the digest, in hex.</summary>
    public const string DigestCommentPrefix = "natmap:state:";

    /// <summary>Bound IPv4 mappings: <c>ip daddr . meta l4proto . th dport : ip addr . port</c>.</summary>
    public const string Bound4 = "bound4";

    /// <summary>Unbound IPv4 mappings: <c>meta l4proto . th dport : ip addr . port</c>.</summary>
    public const string Unbound4 = "unbound4";

    /// <summary>Bound IPv6 mappings.</summary>
    public const string Bound6 = "bound6";

    /// <summary>Unbound IPv6 mappings.</summary>
    public const string Unbound6 = "unbound6";

    /// <summary>The conntrack mark bit set on every connection one of our DNATs translated.</summary>
    public const uint TranslatedMark = 0x01000000;

    /// <summary>The conntrack mark bit set on translated connections that leave through the interface they arrived on.</summary>
    public const uint HairpinMark = 0x02000000;

    /// <summary>The comment of the fixed rules Setup writes.</summary>
    public const string SetupComment = "natmap:setup";

    /// <summary>
    /// The comment of the loopback guard when Setup also turned <c>route_localnet</c> on: ownership of the setting lives
    /// in the kernel, so FlushAll (of any process) knows to turn it off again.
    /// </summary>
    public const string RouteLocalnetComment = "natmap:setup:route_localnet";

    /// <summary>The comment of a static DNAT rule.</summary>
    public const string DnatComment = "natmap:dnat";

    /// <summary>The comment of a static SNAT rule.</summary>
    public const string SnatComment = "natmap:snat";

    /// <summary>The comment of both rules of a hairpin NAT.</summary>
    public const string HairpinComment = "natmap:hairpin";

    /// <summary>
    /// The suffix, after the comment prefix and a colon, of the comment of the one iptables rule in <c>DOCKER-USER</c>
    /// that admits marked connections (<c>natmap:nft</c>): the prefix makes it owned, so FlushAll deletes it.
    /// </summary>
    public const string CoexistenceCommentSuffix = "nft";

    /// <summary>nftables keeps at most this many bytes of a rule or element comment.</summary>
    public const int MaxCommentLength = 128;

    /// <summary>The map of a mapping's family and kind.</summary>
    public static string MapName(AddressFamily family, bool bound) => (family == AddressFamily.InterNetworkV6, bound) switch
    {
        (false, true) => Bound4,
        (false, false) => Unbound4,
        (true, true) => Bound6,
        (true, false) => Unbound6,
    };

    /// <summary>Checks a table name: an nft identifier (a letter, then letters, digits, <c>_</c>, <c>.</c>, <c>-</c>), at most 64 characters (the static table adds a suffix).</summary>
    public static string CheckTableName(string name, string paramName)
    {
        ArgumentNullException.ThrowIfNull(name, paramName);
        return TableNameError(name) is { } error ? throw new ArgumentException(error, paramName) : name;
    }

    /// <summary>Why <paramref name="name"/> is not a table name, or <see langword="null"/> when it is one.</summary>
    public static string? TableNameError(string name) =>
        name.Length is 0 or > 64 || !char.IsAsciiLetter(name[0]) || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-')
            ? $"The nftables table name '{Internal.Guard.Printable(name)}' must start with an ASCII letter and hold only letters, digits, '_', '.' and '-', at most 64 characters."
            : null;
}

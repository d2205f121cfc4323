namespace NatMap.Iptables;

/// <summary>
/// The limits NatMap.Iptables enforces before any command runs. Each mirrors a limit of the kernel or of
/// iptables 1.8 (nft and legacy backends alike), checked against the real binaries by the integration tests.
/// </summary>
public static class NatMapLimits
{
    /// <summary>The longest interface name the kernel accepts (<c>IFNAMSIZ</c> − 1): 15 characters.</summary>
    public const int MaxInterfaceNameLength = 15;

    /// <summary>
    /// The longest rule comment iptables keeps: 255 characters. iptables accepts a longer one and silently
    /// truncates it, which would break the comment as an identifier, so longer comments are rejected.
    /// </summary>
    public const int MaxCommentLength = 255;

    /// <summary>The most ports one <c>-m multiport</c> match accepts: 15 slots, where a range counts as two.</summary>
    public const int MaxMultiportSlots = 15;

    /// <summary>The longest user-defined chain name iptables accepts: 28 characters.</summary>
    public const int MaxChainNameLength = 28;

    /// <summary>
    /// The longest chain name the library accepts as <see cref="NatMapOptions.ChainName"/>: 20 characters. The library
    /// also makes chains named after it that dispatch mappings by port (such as <c>NATMAP-PT31-31</c>), whose suffix
    /// takes up to 8 more characters of <see cref="MaxChainNameLength"/>.
    /// </summary>
    public const int MaxChainNameOptionLength = 20;

    /// <summary>The longest container identifier accepted: 128 characters (a full Docker ID is 64).</summary>
    public const int MaxContainerIdLength = 128;

    /// <summary>The longest comment prefix accepted: 32 characters.</summary>
    public const int MaxCommentPrefixLength = 32;

    /// <summary>
    /// The longest network namespace name: 255 characters, as iproute2 allows (the name is a file under
    /// <c>/var/run/netns</c>, so <c>NAME_MAX</c>); it also refuses <c>.</c> and <c>..</c>.
    /// </summary>
    public const int MaxNetworkNamespaceLength = 255;

    /// <summary>The lowest valid port (port 0 cannot be matched or mapped).</summary>
    public const int MinPort = 1;

    /// <summary>The highest valid port.</summary>
    public const int MaxPort = 65535;
}

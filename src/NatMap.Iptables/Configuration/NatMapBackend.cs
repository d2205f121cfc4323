namespace NatMap.Iptables;

/// <summary>Which kernel interface an <see cref="IptablesManager"/> writes its rules through.</summary>
public enum NatMapBackend
{
    /// <summary>
    /// The default: iptables and ip6tables (nft or legacy, whichever the host's programs are), one rule per
    /// mapping in the library's chains. See <see cref="NatMapOptions.ApplyMode"/> for how changes are written.
    /// </summary>
    Iptables = 0,

    /// <summary>
    /// Native nftables through <see cref="NatMapOptions.NftPath"/>: one <c>inet</c> table (named after
    /// <see cref="NatMapOptions.CommentPrefix"/>) whose mappings are elements of maps keyed by address, protocol and
    /// port, so a connection's cost and an install's cost do not grow with the number of mappings. Both address
    /// families change in one atomic transaction. iptables is used only, when present, for the one rule that admits
    /// translated connections through an iptables FORWARD chain whose policy is DROP (Docker's).
    /// </summary>
    Nftables = 1,
}

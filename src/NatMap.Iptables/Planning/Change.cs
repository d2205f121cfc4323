using System.Net.Sockets;
using NatMap.Iptables.Rules;

namespace NatMap.Iptables.Internal;

/// <summary>One step of an operation's plan: a rule or chain change, or a host command such as a sysctl write.</summary>
internal abstract record Change;

/// <summary>A host command run between rule changes, with the command that undoes it.</summary>
internal sealed record HostChange(CommandSpec Command, CommandSpec? Undo) : Change;

/// <summary>What a <see cref="RuleChange"/> does.</summary>
internal enum ChangeKind
{
    /// <summary>Appends a rule to its chain (<c>-A</c>).</summary>
    Append,

    /// <summary>Inserts a rule at the top of its chain, or at <see cref="RuleChange.Position"/> (<c>-I</c>).</summary>
    Insert,

    /// <summary>Deletes a rule by its specification (<c>-D</c>).</summary>
    Delete,

    /// <summary>Makes a user chain (<c>-N</c>).</summary>
    NewChain,

    /// <summary>Deletes an empty user chain (<c>-X</c>).</summary>
    DeleteChain,
}

/// <summary>
/// One change to one table: what it does, to which chain, with which rule specification (empty for a chain change),
/// how it is undone (<see cref="Undo"/>, <see langword="null"/> when it is not), and whether a per-rule run may find the
/// rule or chain already gone.
/// </summary>
internal sealed record RuleChange(AddressFamily Family, string Table, ChangeKind Kind, string Chain, IReadOnlyList<string> Specification, bool TolerateMissing = false) : Change
{
    /// <summary>Gets where an <see cref="ChangeKind.Insert"/> puts the rule (from 1); <see langword="null"/> for the top.</summary>
    public int? Position { get; init; }

    /// <summary>Gets the change that undoes this one, or <see langword="null"/> when it is not undone.</summary>
    public RuleChange? Undo { get; init; }

    /// <summary>Whether the change adds a rule.</summary>
    public bool Adds => Kind is ChangeKind.Append or ChangeKind.Insert;

    /// <summary>
    /// Gets the iptables arguments after <c>-t TABLE</c>: <c>-A CHAIN …</c>, <c>-I CHAIN [N] …</c>, <c>-N CHAIN</c>, …,
    /// built by the one argv builder, <see cref="IptablesRule.Argv"/>.
    /// </summary>
    public string[] Arguments => IptablesRule.Argv(table: null, Verb(Kind), Chain, Position, Specification);

    /// <summary>Adds <paramref name="rule"/> where it says (the top, or the end of its chain); undone by deleting it.</summary>
    public static RuleChange Add(IptablesRule rule) =>
        new(rule.Family, rule.Table, rule.Position == RulePosition.Top ? ChangeKind.Insert : ChangeKind.Append, rule.Chain, rule.Specification)
        {
            Undo = new(rule.Family, rule.Table, ChangeKind.Delete, rule.Chain, rule.Specification),
        };

    /// <summary>Deletes a rule by its specification; undone by appending it again.</summary>
    public static RuleChange Delete(AddressFamily family, string table, string chain, IReadOnlyList<string> specification, bool tolerateMissing = false) =>
        new(family, table, ChangeKind.Delete, chain, specification, tolerateMissing)
        {
            Undo = new(family, table, ChangeKind.Append, chain, specification),
        };

    /// <summary>Makes a chain; undone by deleting it.</summary>
    public static RuleChange NewChain(AddressFamily family, string table, string chain) =>
        new(family, table, ChangeKind.NewChain, chain, [])
        {
            Undo = new(family, table, ChangeKind.DeleteChain, chain, []),
        };

    /// <summary>Deletes a chain, which a per-rule run may find already gone; undone by making it again.</summary>
    public static RuleChange DeleteChain(AddressFamily family, string table, string chain) =>
        new(family, table, ChangeKind.DeleteChain, chain, [], TolerateMissing: true)
        {
            Undo = new(family, table, ChangeKind.NewChain, chain, []),
        };

    /// <summary>
    /// Deletes a rule by its specification; undone by inserting it again at <paramref name="position"/> (from 1), where
    /// it was when deleted.
    /// </summary>
    public static RuleChange DeleteAt(AddressFamily family, string table, string chain, IReadOnlyList<string> specification, int position, bool tolerateMissing = false) =>
        new(family, table, ChangeKind.Delete, chain, specification, tolerateMissing)
        {
            Undo = new(family, table, ChangeKind.Insert, chain, specification) { Position = position },
        };

    /// <summary>Whether the change has taken effect, judged from a fresh listing of its table.</summary>
    public bool IsVisibleIn(TableListing listing) => Kind switch
    {
        ChangeKind.Append or ChangeKind.Insert => listing.Contains(Chain, Specification),
        ChangeKind.Delete => !listing.Contains(Chain, Specification),
        ChangeKind.NewChain => listing.Chains.Contains(Chain),
        ChangeKind.DeleteChain => !listing.Chains.Contains(Chain),
        _ => false,
    };

    private static string Verb(ChangeKind kind) => kind switch
    {
        ChangeKind.Append => "-A",
        ChangeKind.Insert => "-I",
        ChangeKind.Delete => "-D",
        ChangeKind.NewChain => "-N",
        ChangeKind.DeleteChain => "-X",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown change kind."),
    };
}

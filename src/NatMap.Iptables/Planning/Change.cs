using System.Net.Sockets;
using NatMap.Iptables.Rules;

namespace NatMap.Iptables.Internal;

/// <summary>One step of an operation's plan: a rule or chain change, or a host command such as a sysctl write.</summary>
internal abstract record Change;

/// <summary>A host command run between rule changes, with the command that undoes it.</summary>
internal sealed record HostChange(CommandSpec Command, CommandSpec? Undo) : Change;

/// <summary>
/// One change to one table: the iptables arguments after <c>-t TABLE</c> (<c>-A CHAIN …</c>, <c>-N CHAIN</c>, …),
/// the verb that undoes it with the same arguments (<c>-D</c> for an add, <c>-A</c> for a delete, <c>-X</c> for a
/// new chain), or <see langword="null"/> when it is not undone, and whether a per-rule run may find the rule or chain
/// already gone. <see cref="UndoArguments"/>, when set, undoes it instead: a delete put back at its position.
/// </summary>
internal sealed record RuleChange(AddressFamily Family, string Table, string[] Arguments, string? UndoVerb, bool TolerateMissing = false) : Change
{
    /// <summary>Gets the arguments that undo this change, when they are not <see cref="Arguments"/> with another verb.</summary>
    public string[]? UndoArguments { get; init; }

    public string Verb => Arguments[0];

    public string Chain => Arguments[1];

    public IReadOnlyList<string> Specification => new ArraySegment<string>(Arguments, 2, Arguments.Length - 2);

    public static RuleChange Add(IptablesRule rule) =>
        new(rule.Family, rule.Table, Args(rule.Position == RulePosition.Top ? "-I" : "-A", rule.Chain, rule.Specification), "-D");

    /// <summary>Deletes a rule by its specification; undone by appending it again.</summary>
    public static RuleChange Delete(AddressFamily family, string table, string chain, IReadOnlyList<string> specification, bool tolerateMissing = false) =>
        new(family, table, Args("-D", chain, specification), "-A", tolerateMissing);

    public static RuleChange NewChain(AddressFamily family, string table, string chain) =>
        new(family, table, ["-N", chain], "-X");

    public static RuleChange DeleteChain(AddressFamily family, string table, string chain) =>
        new(family, table, ["-X", chain], null, TolerateMissing: true);

    /// <summary>
    /// Deletes a rule by its specification; undone by inserting it again at <paramref name="position"/> (from 1), where
    /// it was when deleted.
    /// </summary>
    public static RuleChange DeleteAt(AddressFamily family, string table, string chain, IReadOnlyList<string> specification, int position, bool tolerateMissing = false) =>
        Delete(family, table, chain, specification, tolerateMissing) with
        {
            UndoArguments = ["-I", chain, position.ToString(System.Globalization.CultureInfo.InvariantCulture), .. specification],
        };

    /// <summary>The change that undoes this one, or <see langword="null"/>.</summary>
    public RuleChange? Inverse()
    {
        if (UndoVerb is null)
        {
            return null;
        }

        if (UndoArguments is not null)
        {
            return new(Family, Table, UndoArguments, null);
        }

        var arguments = (string[])Arguments.Clone();
        arguments[0] = UndoVerb;
        return new(Family, Table, arguments, Verb);
    }

    /// <summary>Whether the change has taken effect, judged from a fresh listing of its table.</summary>
    public bool IsVisibleIn(TableListing listing) => Verb switch
    {
        "-A" or "-I" => listing.Contains(Chain, Specification),
        "-D" => !listing.Contains(Chain, Specification),
        "-N" => listing.Chains.Contains(Chain),
        "-X" => !listing.Chains.Contains(Chain),
        _ => false,
    };

    private static string[] Args(string verb, string chain, IReadOnlyList<string> specification)
    {
        var arguments = new string[2 + specification.Count];
        arguments[0] = verb;
        arguments[1] = chain;
        for (var i = 0; i < specification.Count; i++)
        {
            arguments[2 + i] = specification[i];
        }

        return arguments;
    }
}

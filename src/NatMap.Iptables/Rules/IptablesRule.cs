using System.Collections.ObjectModel;
using System.Net.Sockets;

namespace NatMap.Iptables.Rules;

/// <summary>
/// One iptables rule: its address family, table, chain and specification (matches and target), independent of
/// whether it is being added, deleted or checked.
/// </summary>
/// <param name="Family">IPv4 (<c>iptables</c>) or IPv6 (<c>ip6tables</c>).</param>
/// <param name="Table">The table: <c>raw</c>, <c>nat</c> or <c>filter</c>.</param>
/// <param name="Chain">The chain in that table.</param>
/// <param name="Specification">The matches and target, one argument per element, in the order <c>iptables -S</c> prints them.</param>
/// <param name="Position">Where <see cref="RuleAction.Add"/> puts the rule.</param>
/// <remarks>Two rules are equal when every field, and every argument of the specification in order, is equal.</remarks>
public sealed record IptablesRule(
    AddressFamily Family,
    string Table,
    string Chain,
    IReadOnlyList<string> Specification,
    RulePosition Position = RulePosition.Append)
{
    /// <summary>Gets the address family.</summary>
    public AddressFamily Family { get; init => field = CheckFamily(value, nameof(Family)); } = CheckFamily(Family, nameof(Family));

    /// <summary>Gets the table.</summary>
    public string Table { get; init => field = CheckTable(value, nameof(Table)); } = CheckTable(Table, nameof(Table));

    /// <summary>Gets the chain.</summary>
    public string Chain { get; init => field = CheckChain(value, nameof(Chain)); } = CheckChain(Chain, nameof(Chain));

    /// <summary>Gets the matches and target.</summary>
    public IReadOnlyList<string> Specification { get; init => field = CheckSpecification(value, nameof(Specification)); } = CheckSpecification(Specification, nameof(Specification));

    /// <summary>Gets the value of the rule's <c>--comment</c>, or <see langword="null"/> when it has none.</summary>
    public string? Comment => Internal.RuleSpecification.ValueOf(Specification, "--comment");

    /// <summary>Returns the iptables arguments that perform <paramref name="action"/> on this rule.</summary>
    /// <param name="action">Add, delete or check.</param>
    /// <returns>For example <c>-t nat -A NATMAP -p tcp -m tcp --dport 8080 … -j DNAT --to-destination 172.17.0.2:80</c>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="action"/> is not a defined value.</exception>
    public IReadOnlyList<string> ToArguments(RuleAction action)
    {
        var verb = action switch
        {
            RuleAction.Add => Position == RulePosition.Top ? "-I" : "-A",
            RuleAction.Delete => "-D",
            RuleAction.Check => "-C",
            _ => throw new ArgumentOutOfRangeException(nameof(action), action, "Unknown rule action."),
        };
        return Argv(Table, verb, Chain, position: null, Specification);
    }

    /// <summary>
    /// The one argv builder of the library: <c>[-t TABLE] VERB CHAIN [POSITION] SPECIFICATION…</c>, for a rule as built
    /// (<see cref="ToArguments"/>) and for a planned change alike.
    /// </summary>
    internal static string[] Argv(string? table, string verb, string chain, int? position, IReadOnlyList<string> specification)
    {
        var head = table is null ? 0 : 2;
        var positionText = position?.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var arguments = new string[head + 2 + (positionText is null ? 0 : 1) + specification.Count];
        if (table is not null)
        {
            arguments[0] = "-t";
            arguments[1] = table;
        }

        arguments[head] = verb;
        arguments[head + 1] = chain;
        var next = head + 2;
        if (positionText is not null)
        {
            arguments[next++] = positionText;
        }

        for (var i = 0; i < specification.Count; i++)
        {
            arguments[next + i] = specification[i];
        }

        return arguments;
    }

    /// <inheritdoc/>
    public bool Equals(IptablesRule? other) =>
        other is not null
        && Family == other.Family
        && Table == other.Table
        && Chain == other.Chain
        && Position == other.Position
        && Specification.SequenceEqual(other.Specification, StringComparer.Ordinal);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = default(HashCode);
        hash.Add(Family);
        hash.Add(Table);
        hash.Add(Chain);
        hash.Add(Position);
        foreach (var argument in Specification)
        {
            hash.Add(argument, StringComparer.Ordinal);
        }

        return hash.ToHashCode();
    }

    /// <summary>Returns the rule as <c>iptables -S</c> would list it, prefixed by its family and table.</summary>
    /// <returns>For example <c>ipv4 nat -A NATMAP -p tcp …</c>.</returns>
    public override string ToString() =>
        $"{(Family == AddressFamily.InterNetworkV6 ? "ipv6" : "ipv4")} {Table} {new CommandSpec(Position == RulePosition.Top ? "-I" : "-A", [Chain, .. Specification])}";

    private static AddressFamily CheckFamily(AddressFamily family, string paramName) =>
        family is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6
            ? family
            : throw new ArgumentOutOfRangeException(paramName, family, "The family must be InterNetwork (IPv4) or InterNetworkV6 (IPv6).");

    private static string CheckTable(string table, string paramName) =>
        table is "raw" or "nat" or "filter" or "mangle"
            ? table
            : throw new ArgumentException($"Unknown table '{table}'.", paramName);

    private static string CheckChain(string chain, string paramName) =>
        !string.IsNullOrEmpty(chain) && chain.Length <= NatMapLimits.MaxChainNameLength && Internal.Guard.IsNameToken(chain)
            ? chain
            : throw new ArgumentException($"'{chain}' is not a valid chain name.", paramName);

    private static ReadOnlyCollection<string> CheckSpecification(IReadOnlyList<string> specification, string paramName)
    {
        ArgumentNullException.ThrowIfNull(specification, paramName);
        var copy = specification.ToArray();
        foreach (var argument in copy)
        {
            if (string.IsNullOrEmpty(argument) || argument.AsSpan().IndexOfAnyInRange('\0', '\x1f') >= 0 || argument.Contains('\x7f', StringComparison.Ordinal))
            {
                throw new ArgumentException("Rule arguments must not be null or empty or contain control characters.", paramName);
            }
        }

        return Array.AsReadOnly(copy);
    }
}

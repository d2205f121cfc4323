using System.Net.Sockets;
using NatMap.Iptables.Internal;
using NatMap.Iptables.Rules;

namespace NatMap.Iptables.Tests.Planning;

/// <summary>Listings from text and plans as text, so a planner's test is a table of listings and expected lines.</summary>
internal static class PlanText
{
    public static readonly NatRuleBuilder Builder = NatRuleBuilder.Default;

    public static readonly HostCommands Commands = new(new NatMapOptions());

    /// <summary>Tables as <c>iptables-save</c> prints them: <c>*table</c>, <c>:CHAIN</c> and <c>-A</c> lines.</summary>
    public static Dictionary<string, TableListing> Tables(string save, params string[] tables)
    {
        var saved = SaveListing.Parse(save);
        return tables.ToDictionary(t => t, t => saved.GetValueOrDefault(t) ?? TableListing.Empty, StringComparer.Ordinal);
    }

    /// <summary>One line per change: <c>ipv4 nat -A CHAIN …</c>, or the host command.</summary>
    public static string[] Lines(IEnumerable<Change> plan) =>
    [
        .. plan.Select(static c => c switch
        {
            RuleChange r => $"{(r.Family == AddressFamily.InterNetworkV6 ? "ipv6" : "ipv4")} {r.Table} {string.Join(' ', r.Arguments)}",
            HostChange h => h.Command.ToString(),
            _ => throw new InvalidOperationException(),
        }),
    ];

    /// <summary>The undo of each rule change, as <see cref="Lines"/> writes it; "none" when it is not undone.</summary>
    public static string[] UndoLines(IEnumerable<Change> plan) =>
        [.. plan.OfType<RuleChange>().Select(static r => r.Undo is { } undo ? Lines([undo])[0] : "none")];

    public const string EmptyV4 = """
        *raw
        :PREROUTING ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        COMMIT
        *nat
        :PREROUTING ACCEPT [0:0]
        :INPUT ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        COMMIT
        *filter
        :INPUT ACCEPT [0:0]
        :FORWARD ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        COMMIT
        """;

    /// <summary>What Setup leaves on an IPv4 host without Docker, route_localnet left alone.</summary>
    public const string SetUpV4 = """
        *raw
        :PREROUTING ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        -A PREROUTING -d 127.0.0.0/8 ! -i lo -m comment --comment natmap:setup -j DROP
        COMMIT
        *nat
        :PREROUTING ACCEPT [0:0]
        :INPUT ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        :NATMAP - [0:0]
        :NATMAP-P - [0:0]
        -A PREROUTING -m addrtype --dst-type LOCAL -m comment --comment natmap:setup -j NATMAP
        -A OUTPUT -m addrtype --dst-type LOCAL -m comment --comment natmap:setup -j NATMAP
        -A POSTROUTING -s 127.0.0.0/8 ! -o lo -m conntrack --ctstate DNAT -m comment --comment natmap:setup -j MASQUERADE
        -A POSTROUTING -m conntrack --ctstate DNAT -m comment --comment natmap:setup -j NATMAP-P
        COMMIT
        *filter
        :INPUT ACCEPT [0:0]
        :FORWARD ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :DOCKER-USER - [0:0]
        :NATMAP - [0:0]
        -A FORWARD -m comment --comment natmap:setup -j DOCKER-USER
        -A DOCKER-USER -m comment --comment natmap:setup -j NATMAP
        -A NATMAP -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment natmap:setup -j ACCEPT
        COMMIT
        """;
}

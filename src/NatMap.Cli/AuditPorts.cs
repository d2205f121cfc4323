using System.Globalization;
using NatMap.Iptables;

namespace NatMap.Cli;

/// <summary>
/// Which ports of a mapping's port set the audit traces. A port set may hold a range of tens of thousands of ports,
/// too many to trace one by one; but the emulator's walk depends on the destination port only through the rules'
/// port matches (<c>--dport</c>, <c>--dports</c>, <c>--ctorigdstport</c>): a DNAT's <c>--to-destination</c> port is a
/// constant, and the source port is the same for every traced packet. So between two consecutive bounds of those
/// matches, across every rule of the loaded rulesets, every port meets exactly the same rules and gets the same
/// verdict. The audit cuts each range of the set at those bounds and traces the first port of every segment: that is
/// every port's verdict, with one trace per segment. A rule the emulator does not evaluate makes a segment "unknown"
/// as it would make any port unknown.
/// </summary>
internal static class AuditPorts
{
    /// <summary>The options whose value is a list of destination ports or ranges, as <c>iptables-save</c> prints them.</summary>
    private static readonly HashSet<string> PortMatches = new(StringComparer.Ordinal)
    {
        "--dport", "--destination-port", "--dports", "--destination-ports", "--ctorigdstport",
    };

    /// <summary>
    /// The ports where some rule's destination-port match starts or stops matching: for a match of <c>A:B</c>, the
    /// ports A and B + 1. Every rule of every ruleset counts, matched or not, ours or foreign; a token that only looks
    /// like a port option (inside a comment) at worst cuts a segment in two, which costs one trace and changes no
    /// verdict.
    /// </summary>
    /// <param name="saves">The rulesets, as <c>iptables-save</c> prints them.</param>
    /// <returns>The bounds, ascending.</returns>
    public static SortedSet<int> Bounds(IEnumerable<string> saves)
    {
        var bounds = new SortedSet<int>();
        foreach (var line in saves.SelectMany(static s => s.Split('\n')).Where(static l => l.StartsWith("-A ", StringComparison.Ordinal)))
        {
            var tokens = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            for (var i = 0; i + 1 < tokens.Length; i++)
            {
                if (!PortMatches.Contains(tokens[i]))
                {
                    continue;
                }

                foreach (var item in tokens[i + 1].Split(','))
                {
                    var parts = item.Split(':');
                    if (parts.Length > 2 || !Port(parts[0], 0, out var first) || !Port(parts[^1], 65535, out var last))
                    {
                        continue;
                    }

                    _ = bounds.Add(first);
                    _ = bounds.Add(last + 1);
                }
            }
        }

        return bounds;
    }

    /// <summary>
    /// Cuts every range of <paramref name="ports"/> at <paramref name="bounds"/>: the segments, in the set's order, each
    /// of whose ports meets the same rules. A single port is its own segment.
    /// </summary>
    /// <param name="ports">The mapping's ports.</param>
    /// <param name="bounds">From <see cref="Bounds"/>.</param>
    /// <returns>The segments; trace the first port of each.</returns>
    public static IEnumerable<PortRange> Segments(PortSet ports, SortedSet<int> bounds)
    {
        foreach (var range in ports.Ranges)
        {
            var first = range.First;
            if (!range.IsSinglePort)
            {
                foreach (var bound in bounds.GetViewBetween(range.First + 1, range.Last))
                {
                    yield return new PortRange(first, bound - 1);
                    first = bound;
                }
            }

            yield return new PortRange(first, range.Last);
        }
    }

    private static bool Port(string text, int empty, out int port)
    {
        if (text.Length == 0)
        {
            port = empty;
            return true;
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port <= 65535;
    }
}

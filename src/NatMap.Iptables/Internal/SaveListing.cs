namespace NatMap.Iptables.Internal;

/// <summary>
/// <c>iptables-save</c> output split into tables (<c>*nat</c> … <c>COMMIT</c>), each read like an <c>iptables -S</c>
/// listing: chain declarations (<c>:CHAIN POLICY [p:b]</c>) and rules (<c>-A CHAIN …</c>, with quoting undone).
/// </summary>
internal static class SaveListing
{
    public static IReadOnlyDictionary<string, ChainListing> Parse(string output)
    {
        var tables = new Dictionary<string, System.Text.StringBuilder>(StringComparer.Ordinal);
        System.Text.StringBuilder? current = null;
        foreach (var rawLine in output.Split('\n'))
        {
            var line = rawLine.TrimEnd('\r');
            if (line.StartsWith('*'))
            {
                current = new System.Text.StringBuilder();
                tables[line[1..].Trim()] = current;
            }
            else if (line == "COMMIT")
            {
                current = null;
            }
            else if (current is not null && line.StartsWith(':'))
            {
                // ":CHAIN POLICY [0:0]" declares a chain, like "-N CHAIN" / "-P CHAIN POLICY" in a listing.
                var name = line[1..].Split(' ', 2)[0];
                current.Append("-N ").Append(name).Append('\n');
            }
            else if (current is not null && line.StartsWith("-A ", StringComparison.Ordinal))
            {
                current.Append(line).Append('\n');
            }
        }

        return tables.ToDictionary(t => t.Key, t => ChainListing.Parse(t.Value.ToString()), StringComparer.Ordinal);
    }
}

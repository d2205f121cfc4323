namespace NatMap.Iptables.Internal;

/// <summary><c>iptables-save</c> output split into its tables (<c>*nat</c> … <c>COMMIT</c>), each read as a <see cref="ChainListing"/>.</summary>
internal static class SaveListing
{
    public static IReadOnlyDictionary<string, ChainListing> Parse(string output)
    {
        var tables = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        List<string>? current = null;
        foreach (var rawLine in output.Split('\n'))
        {
            var line = rawLine.TrimEnd('\r');
            if (line.StartsWith('*'))
            {
                current = [];
                tables[line[1..].Trim()] = current;
            }
            else if (line == "COMMIT")
            {
                current = null;
            }
            else
            {
                current?.Add(line);
            }
        }

        return tables.ToDictionary(t => t.Key, t => ChainListing.Parse(t.Value), StringComparer.Ordinal);
    }
}

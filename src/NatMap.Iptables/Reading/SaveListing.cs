namespace NatMap.Iptables.Internal;

/// <summary><c>iptables-save</c> output split into its tables (<c>*nat</c> … <c>COMMIT</c>), each read as a <see cref="TableListing"/>.</summary>
internal static class SaveListing
{
    /// <summary>
    /// Splits <paramref name="output"/> into its tables, reading its lines as <see cref="TableListing.LogicalLines"/>
    /// does (a newline inside a quoted comment does not end a line, so it cannot start a table or end one either).
    /// </summary>
    /// <param name="output">What iptables-save printed.</param>
    /// <param name="keep">When set, the only rule lines tokenized and kept, as for <see cref="TableListing.Parse(IEnumerable{string}, Func{string, bool}?)"/>.</param>
    /// <returns>The tables by name.</returns>
    public static IReadOnlyDictionary<string, TableListing> Parse(string output, Func<string, bool>? keep = null)
    {
        var tables = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        List<string>? current = null;
        foreach (var rawLine in TableListing.LogicalLines(output))
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

        return tables.ToDictionary(t => t.Key, t => TableListing.Parse(t.Value, keep), StringComparer.Ordinal);
    }
}

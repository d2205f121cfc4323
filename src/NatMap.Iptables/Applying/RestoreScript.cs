using System.Text;

namespace NatMap.Iptables.Internal;

/// <summary>Writes <c>iptables-restore --noflush</c> input.</summary>
internal static class RestoreScript
{
    private static readonly System.Buffers.SearchValues<char> NeedsQuotes = System.Buffers.SearchValues.Create(" \t\"\\'");

    /// <summary>
    /// The input for a set of changes of one family: one <c>*TABLE … COMMIT</c> block per table, in the order the
    /// tables first appear, each holding its changes in their original order. Every line is a plain iptables command
    /// (<c>-N</c>, <c>-A</c>, <c>-I</c>, <c>-D</c>, <c>-F</c>, <c>-X</c>); chains are never declared with
    /// <c>:CHAIN</c>, which under <c>--noflush</c> would flush an existing chain.
    /// </summary>
    public static string Render(IReadOnlyList<RuleChange> changes)
    {
        var tables = new List<string>(3);
        var capacity = 0;
        foreach (var change in changes)
        {
            if (!tables.Contains(change.Table))
            {
                tables.Add(change.Table);
            }

            foreach (var argument in change.Arguments)
            {
                capacity += argument.Length + 1;
            }
        }

        // Sized up front: a large batch is one allocation, not a chain of growing chunks.
        var builder = new StringBuilder(capacity + (tables.Count * 24) + 16);
        foreach (var table in tables)
        {
            _ = builder.Append('*').Append(table).Append('\n');
            foreach (var change in changes)
            {
                if (change.Table == table)
                {
                    AppendLine(builder, change.Arguments);
                }
            }

            _ = builder.Append("COMMIT\n");
        }

        return builder.ToString();
    }

    /// <summary>Changes ordered table by table (tables in order of first appearance), keeping their order within a table.</summary>
    public static IEnumerable<IGrouping<string, RuleChange>> GroupByTable(IEnumerable<RuleChange> changes) =>
        changes.GroupBy(static c => c.Table, StringComparer.Ordinal);

    private static void AppendLine(StringBuilder builder, string[] arguments)
    {
        for (var i = 0; i < arguments.Length; i++)
        {
            if (i > 0)
            {
                _ = builder.Append(' ');
            }

            AppendToken(builder, arguments[i]);
        }

        _ = builder.Append('\n');
    }

    /// <summary>
    /// iptables-restore splits a line at spaces and tabs; a double-quoted token may hold them, and inside quotes a
    /// backslash escapes the next character. Rule arguments never hold control characters (<see cref="Rules.IptablesRule"/>
    /// rejects them), so no token can end a line.
    /// </summary>
    private static void AppendToken(StringBuilder builder, string token)
    {
        if (token.Length > 0 && token.AsSpan().IndexOfAny(NeedsQuotes) < 0)
        {
            _ = builder.Append(token);
            return;
        }

        _ = builder.Append('"');
        foreach (var c in token)
        {
            if (c is '"' or '\\')
            {
                _ = builder.Append('\\');
            }

            _ = builder.Append(c);
        }

        _ = builder.Append('"');
    }
}

using System.Text;

namespace NatMap.Iptables.Shared;

/// <summary>
/// Splits one line of iptables text (an <c>iptables -S</c> or <c>iptables-save</c> rule, an <c>iptables-restore</c>
/// input line) into arguments the way iptables-restore does: at spaces and tabs, where a double-quoted part may hold
/// them and, inside quotes, a backslash takes the next character literally. Compiled into each package that needs it.
/// </summary>
internal static class ArgumentLine
{
    /// <summary>Splits <paramref name="line"/>; <paramref name="unterminated"/> tells whether a quote was left open.</summary>
    public static List<string> Split(string line, out bool unterminated)
    {
        var tokens = new List<string>();
        var current = new StringBuilder();
        var inToken = false;
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '\\' && i + 1 < line.Length)
                {
                    _ = current.Append(line[++i]);
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    _ = current.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
                inToken = true;
            }
            else if (c is ' ' or '\t')
            {
                if (inToken)
                {
                    tokens.Add(current.ToString());
                    _ = current.Clear();
                    inToken = false;
                }
            }
            else
            {
                _ = current.Append(c);
                inToken = true;
            }
        }

        if (inToken)
        {
            tokens.Add(current.ToString());
        }

        unterminated = quoted;
        return tokens;
    }
}

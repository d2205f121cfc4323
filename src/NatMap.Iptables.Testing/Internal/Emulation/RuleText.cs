using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace NatMap.Iptables.Testing.Internal.Emulation;

/// <summary>
/// Rule text as iptables handles it: splitting a restore line, normalising a rule specification to the form
/// <c>iptables -S</c> and <c>iptables-save</c> print, and quoting tokens for that output.
/// </summary>
internal static class RuleText
{
    private static readonly string[] HeaderOrder = ["-s", "-d", "-i", "-o", "-p"];

    private static readonly Dictionary<string, string> LongHeader = new(StringComparer.Ordinal)
    {
        ["--source"] = "-s",
        ["--src"] = "-s",
        ["--destination"] = "-d",
        ["--dst"] = "-d",
        ["--in-interface"] = "-i",
        ["--out-interface"] = "-o",
        ["--protocol"] = "-p",
    };

    private static readonly HashSet<string> PortOptions = new(StringComparer.Ordinal)
    {
        "--dport", "--sport", "--destination-port", "--source-port", "--syn", "--tcp-flags", "--tcp-option",
    };

    /// <summary>Splits one restore line as iptables-restore does; an unterminated quote is a parameter problem.</summary>
    public static List<string> Split(string line)
    {
        var tokens = Shared.ArgumentLine.Split(line, out var unterminated);
        return unterminated ? throw new EmulatedFailure(2, "Bad argument: unterminated quote") : tokens;
    }

    /// <summary>
    /// One rule as <c>-A CHAIN …</c> output prints it. A comment or log prefix is printed as libxtables saves strings:
    /// bare when it holds only letters, digits, <c>_</c> and <c>-</c>, else double-quoted with <c>"</c>, <c>\</c> and
    /// <c>'</c> escaped.
    /// </summary>
    public static string Format(string verb, string chain, IReadOnlyList<string> specification)
    {
        var builder = new StringBuilder(verb).Append(' ').Append(chain);
        for (var i = 0; i < specification.Count; i++)
        {
            var token = specification[i];
            _ = builder.Append(' ').Append(i > 0 && specification[i - 1] is "--comment" or "--log-prefix" ? SaveString(token) : token);
        }

        return builder.ToString();
    }

    /// <summary>The chain a rule jumps (<c>-j</c>) or goes (<c>-g</c>) to, or the target it ends in; <see langword="null"/> for none.</summary>
    public static string? Target(IReadOnlyList<string> specification)
    {
        for (var i = specification.Count - 2; i >= 0; i--)
        {
            if (specification[i] is "-j" or "-g" or "--jump" or "--goto")
            {
                return specification[i + 1];
            }
        }

        return null;
    }

    /// <summary>
    /// A rule specification in the form iptables prints it: the header options (<c>-s -d -i -o -p</c>, each after its
    /// <c>!</c>) first and in that order, addresses with their prefix length and host bits cleared, protocol names in
    /// lower case, the implicit <c>-m tcp</c>/<c>-m udp</c> before the first port option, then matches and the
    /// target in their given order.
    /// </summary>
    public static string[] Normalize(IReadOnlyList<string> specification, AddressFamily family)
    {
        var header = new Dictionary<string, (bool Negated, string Value)>(StringComparer.Ordinal);
        var rest = new List<string>();
        var negated = false;
        for (var i = 0; i < specification.Count; i++)
        {
            var token = specification[i];
            if (token == "!")
            {
                negated = true;
                continue;
            }

            var option = LongHeader.GetValueOrDefault(token, token);
            if (Array.IndexOf(HeaderOrder, option) >= 0 && rest.LastOrDefault() is not "-m")
            {
                if (i + 1 >= specification.Count)
                {
                    throw new EmulatedFailure(2, $"option \"{token}\" requires an argument");
                }

                var value = specification[++i];
                header[option] = (negated, option switch
                {
                    "-s" or "-d" => Network(value, family),
                    "-p" => value.ToLowerInvariant(),
                    _ => value,
                });
                negated = false;
                continue;
            }

            if (negated)
            {
                rest.Add("!");
                negated = false;
            }

            rest.Add(token);
        }

        if (header.TryGetValue("-p", out var protocol) && protocol.Value is "tcp" or "udp" && !HasMatch(rest, protocol.Value))
        {
            var first = rest.FindIndex(PortOptions.Contains);
            if (first >= 0)
            {
                if (first > 0 && rest[first - 1] == "!")
                {
                    first--;
                }

                rest.InsertRange(first, ["-m", protocol.Value]);
            }
        }

        var normalized = new List<string>();
        foreach (var option in HeaderOrder)
        {
            if (header.TryGetValue(option, out var entry))
            {
                if (entry.Negated)
                {
                    normalized.Add("!");
                }

                normalized.Add(option);
                normalized.Add(entry.Value);
            }
        }

        normalized.AddRange(rest);
        return [.. normalized];
    }

    private static bool HasMatch(List<string> tokens, string name)
    {
        for (var i = 0; i + 1 < tokens.Count; i++)
        {
            if (tokens[i] is "-m" or "--match" && tokens[i + 1] == name)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary><c>10.0.0.1</c> becomes <c>10.0.0.1/32</c>, <c>10.1.2.3/8</c> becomes <c>10.0.0.0/8</c>; IPv6 likewise.</summary>
    private static string Network(string value, AddressFamily family)
    {
        var slash = value.IndexOf('/', StringComparison.Ordinal);
        var addressText = slash < 0 ? value : value[..slash];
        if (!IPAddress.TryParse(addressText, out var address) || address.AddressFamily != family)
        {
            throw new EmulatedFailure(2, $"host/network `{addressText}' not found");
        }

        var bits = family == AddressFamily.InterNetwork ? 32 : 128;
        var prefix = bits;
        if (slash >= 0)
        {
            var maskText = value[(slash + 1)..];
            if (maskText.AsSpan().IndexOfAny('.', ':') >= 0 && IPAddress.TryParse(maskText, out var mask) && mask.AddressFamily == family)
            {
                prefix = mask.GetAddressBytes().Sum(static b => BitOperations(b));
            }
            else if (!int.TryParse(maskText, NumberStyles.None, CultureInfo.InvariantCulture, out prefix) || prefix > bits)
            {
                throw new EmulatedFailure(2, $"invalid mask `{maskText}' specified");
            }
        }

        return $"{EmulatedHost.Mask(address, prefix)}/{prefix}";
    }

    private static int BitOperations(byte value) => System.Numerics.BitOperations.PopCount(value);

    private static string SaveString(string value)
    {
        if (value.Length > 0 && value.All(static c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
        {
            return value;
        }

        var builder = new StringBuilder("\"");
        foreach (var c in value)
        {
            if (c is '"' or '\\' or '\'')
            {
                _ = builder.Append('\\');
            }

            _ = builder.Append(c);
        }

        return builder.Append('"').ToString();
    }
}

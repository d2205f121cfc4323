using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace NatMap.Iptables;

/// <summary>
/// One port, one port range, or a list of ports and ranges, as matched by iptables' <c>--dport</c> or
/// <c>-m multiport --dports</c>. <see cref="ToString"/> is the exact iptables token.
/// </summary>
/// <remarks>
/// <para>Text accepted by <see cref="Parse(string)"/>: <c>80</c>, <c>80,443</c>, <c>8000-8100</c> (or <c>8000:8100</c>),
/// and lists mixing both such as <c>80,8000-8100</c>. No whitespace, signs or empty items.</para>
/// <para>A list of more than one item becomes a <c>multiport</c> match, which holds at most
/// <see cref="NatMapLimits.MaxMultiportSlots"/> slots, a range counting as two.</para>
/// <para>The <see langword="default"/> value is empty and is rejected wherever a port set is required.</para>
/// </remarks>
public readonly record struct PortSet
{
    private readonly ImmutableArray<PortRange> _ranges;

    /// <summary>Creates a set of one port.</summary>
    /// <param name="port">The port, 1 to 65535.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="port"/> is outside 1 to 65535.</exception>
    public PortSet(int port)
        : this([new PortRange(port)])
    {
    }

    /// <summary>Creates a set of one inclusive port range.</summary>
    /// <param name="first">The first port.</param>
    /// <param name="last">The last port, at least <paramref name="first"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">A port is outside 1 to 65535, or <paramref name="last"/> is below <paramref name="first"/>.</exception>
    public PortSet(int first, int last)
        : this([new PortRange(first, last)])
    {
    }

    /// <summary>Creates a set from ports and ranges, kept in the order given.</summary>
    /// <param name="ranges">One or more ranges; more than one becomes a multiport match.</param>
    /// <exception cref="ArgumentNullException"><paramref name="ranges"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="ranges"/> is empty, holds an invalid range, or needs more than <see cref="NatMapLimits.MaxMultiportSlots"/> multiport slots.</exception>
    public PortSet(IEnumerable<PortRange> ranges)
    {
        ArgumentNullException.ThrowIfNull(ranges);
        var array = ranges.ToImmutableArray();
        var error = Validate(array);
        if (error is not null)
        {
            throw new ArgumentException(error, nameof(ranges));
        }

        _ranges = array;
    }

    /// <summary>Gets the ports and ranges, in order. Empty only for <see langword="default"/>.</summary>
    public IReadOnlyList<PortRange> Ranges => _ranges.IsDefault ? [] : _ranges;

    /// <summary>Gets a value indicating whether the set is empty (the <see langword="default"/> value).</summary>
    public bool IsEmpty => _ranges.IsDefaultOrEmpty;

    /// <summary>Gets a value indicating whether the set is exactly one port.</summary>
    public bool IsSinglePort => !IsEmpty && _ranges.Length == 1 && _ranges[0].IsSinglePort;

    /// <summary>Gets a value indicating whether the set needs a <c>multiport</c> match (more than one item).</summary>
    public bool IsMultiport => !IsEmpty && _ranges.Length > 1;

    /// <summary>Gets how many <c>multiport</c> slots the set takes (a range counts as two).</summary>
    public int Slots => IsEmpty ? 0 : _ranges.Sum(static r => r.Slots);

    /// <summary>Parses port text such as <c>80</c>, <c>80,443</c> or <c>8000-8100</c>.</summary>
    /// <param name="s">The text to parse.</param>
    /// <returns>The parsed set.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="s"/> is <see langword="null"/>.</exception>
    /// <exception cref="FormatException"><paramref name="s"/> is not a valid port list, or exceeds the multiport limit.</exception>
    public static PortSet Parse(string s)
    {
        ArgumentNullException.ThrowIfNull(s);
        return TryParseCore(s, out var result, out var error) ? result : throw new FormatException(error);
    }

    /// <summary>Tries to parse port text; never throws.</summary>
    /// <param name="s">The text to parse.</param>
    /// <param name="result">The parsed set, or <see langword="default"/> when parsing fails.</param>
    /// <returns><see langword="true"/> when <paramref name="s"/> was a valid port list.</returns>
    public static bool TryParse([NotNullWhen(true)] string? s, out PortSet result) => TryParseCore(s, out result, out _);

    /// <summary>Converts one port to a set.</summary>
    /// <param name="port">The port.</param>
    public static implicit operator PortSet(int port) => new(port);

    /// <summary>Returns the iptables token: <c>80</c>, <c>8000:8100</c> or <c>80,443,8000:8100</c>.</summary>
    /// <returns>The set as iptables writes it; empty for the <see langword="default"/> value.</returns>
    public override string ToString() => IsEmpty ? string.Empty : string.Join(',', _ranges);

    /// <summary>
    /// The same ports sorted and merged (<c>443,80,81</c> as <c>80-81,443</c>): the one form of a set, and the form an
    /// nftables interval set keeps and lists back.
    /// </summary>
    internal PortSet Normalize() => IsEmpty ? this : new PortSet(Normalized());

    private List<PortRange> Normalized()
    {
        var merged = new List<PortRange>(Ranges.Count);
        foreach (var range in Ranges.OrderBy(static r => r.First).ThenBy(static r => r.Last))
        {
            if (merged.Count > 0 && range.First <= merged[^1].Last + 1)
            {
                merged[^1] = new PortRange(merged[^1].First, Math.Max(merged[^1].Last, range.Last));
            }
            else
            {
                merged.Add(range);
            }
        }

        return merged;
    }

    /// <summary>
    /// Compares the ports the sets hold, whatever the order and form they were written in: <c>80,443</c> equals
    /// <c>443,80</c>, and <c>80,81</c> equals <c>80-81</c>. A set is a set; how it is written (<see cref="ToString"/>)
    /// is kept as given, and iptables lists it back that way, while nftables keeps it sorted and merged.
    /// </summary>
    /// <param name="other">The set to compare with.</param>
    /// <returns><see langword="true"/> when both hold the same ports.</returns>
    public bool Equals(PortSet other) => Normalized().SequenceEqual(other.Normalized());

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = default(HashCode);
        foreach (var range in Normalized())
        {
            hash.Add(range);
        }

        return hash.ToHashCode();
    }

    private static string? Validate(ImmutableArray<PortRange> ranges)
    {
        if (ranges.IsEmpty)
        {
            return "A port set needs at least one port.";
        }

        foreach (var range in ranges)
        {
            if (range.First < NatMapLimits.MinPort || range.Last > NatMapLimits.MaxPort || range.Last < range.First)
            {
                return $"The port range '{range.First}-{range.Last}' is not valid; ports run from {NatMapLimits.MinPort} to {NatMapLimits.MaxPort}.";
            }
        }

        var slots = ranges.Sum(static r => r.Slots);
        if (ranges.Length > 1 && slots > NatMapLimits.MaxMultiportSlots)
        {
            return $"The port list needs {slots} multiport slots; iptables allows at most {NatMapLimits.MaxMultiportSlots}, and a range counts as two.";
        }

        return null;
    }

    private static bool TryParseCore(string? s, out PortSet result, [NotNullWhen(false)] out string? error)
    {
        result = default;
        if (string.IsNullOrEmpty(s))
        {
            error = "The port text is empty.";
            return false;
        }

        var builder = ImmutableArray.CreateBuilder<PortRange>();
        foreach (var item in s.Split(','))
        {
            var separator = item.IndexOfAny(['-', ':']);
            var firstText = separator < 0 ? item : item[..separator];
            var lastText = separator < 0 ? item : item[(separator + 1)..];
            if (!TryParsePort(firstText, out var first) || !TryParsePort(lastText, out var last))
            {
                error = $"'{Internal.Guard.Printable(item)}' in '{Internal.Guard.Printable(s)}' is not a port (1-65535) or a range such as 8000-8100.";
                return false;
            }

            if (last < first)
            {
                error = $"The range '{item}' ends before it starts.";
                return false;
            }

            builder.Add(new PortRange(first, last));
        }

        var ranges = builder.ToImmutable();
        error = Validate(ranges);
        if (error is not null)
        {
            return false;
        }

        result = new PortSet(ranges);
        return true;
    }

    private static bool TryParsePort(string text, out int port)
    {
        port = 0;
        if (text.Length is 0 or > 5 || !text.All(char.IsAsciiDigit))
        {
            return false;
        }

        port = int.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture);
        return port is >= NatMapLimits.MinPort and <= NatMapLimits.MaxPort;
    }
}

using System.Globalization;
using NatMap.Iptables.Internal;

namespace NatMap.Iptables;

/// <summary>An inclusive range of ports, <see cref="First"/> to <see cref="Last"/>; a single port when both are equal.</summary>
public readonly record struct PortRange
{
    /// <summary>Creates a range of one port.</summary>
    /// <param name="port">The port, 1 to 65535.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="port"/> is outside 1 to 65535.</exception>
    public PortRange(int port)
        : this(port, port)
    {
    }

    /// <summary>Creates an inclusive range of ports.</summary>
    /// <param name="first">The first port, 1 to 65535.</param>
    /// <param name="last">The last port, at least <paramref name="first"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">A port is outside 1 to 65535, or <paramref name="last"/> is below <paramref name="first"/>.</exception>
    public PortRange(int first, int last)
    {
        Guard.Port(first, nameof(first));
        Guard.Port(last, nameof(last));
        if (last < first)
        {
            throw new ArgumentOutOfRangeException(nameof(last), last, $"The last port ({last}) must not be below the first ({first}).");
        }

        First = first;
        Last = last;
    }

    /// <summary>Gets the first port of the range.</summary>
    public int First { get; }

    /// <summary>Gets the last port of the range (equal to <see cref="First"/> for a single port).</summary>
    public int Last { get; }

    /// <summary>Gets a value indicating whether the range holds exactly one port.</summary>
    public bool IsSinglePort => First == Last;

    /// <summary>Gets how many <c>multiport</c> slots the range takes: one for a single port, two for a range.</summary>
    public int Slots => IsSinglePort ? 1 : 2;

    /// <summary>Returns the iptables token: <c>80</c> or <c>8000:8100</c>.</summary>
    /// <returns>The range as iptables writes it.</returns>
    public override string ToString() => IsSinglePort
        ? First.ToString(CultureInfo.InvariantCulture)
        : string.Create(CultureInfo.InvariantCulture, $"{First}:{Last}");
}

using System.Net.Sockets;
using NatMap.Iptables.Rules;

namespace NatMap.Iptables.Internal;

/// <summary>
/// The checks both backends make of an operation's objects before any command runs: no null list or entry, no IPv6
/// object when IPv6 is disabled, and every static object's rules built (which validates them).
/// </summary>
internal static class DesiredChecks
{
    /// <summary>Throws when a list of <paramref name="desired"/> is <see langword="null"/>, naming it.</summary>
    public static void RequireLists(NatMapState desired)
    {
        ArgumentNullException.ThrowIfNull(desired);
        ArgumentNullException.ThrowIfNull(desired.DockerMaps, nameof(NatMapState.DockerMaps));
        ArgumentNullException.ThrowIfNull(desired.Dnats, nameof(NatMapState.Dnats));
        ArgumentNullException.ThrowIfNull(desired.Snats, nameof(NatMapState.Snats));
        ArgumentNullException.ThrowIfNull(desired.Hairpins, nameof(NatMapState.Hairpins));
    }

    /// <summary>The rules of every static object (DNAT, SNAT, hairpin) of <paramref name="desired"/>, each validated, in order.</summary>
    public static List<IptablesRule> StaticRules(NatRuleBuilder builder, NatMapState desired)
    {
        var rules = new List<IptablesRule>();
        foreach (var config in desired.Dnats)
        {
            rules.AddRange(builder.BuildDnat(NotNull(config, nameof(NatMapState.Dnats))));
        }

        foreach (var config in desired.Snats)
        {
            rules.AddRange(builder.BuildSnat(NotNull(config, nameof(NatMapState.Snats))));
        }

        foreach (var config in desired.Hairpins)
        {
            rules.AddRange(builder.BuildHairpin(NotNull(config, nameof(NatMapState.Hairpins))));
        }

        return rules;
    }

    /// <summary>An entry of a list, which must not be <see langword="null"/>.</summary>
    public static T NotNull<T>(T? item, string paramName)
        where T : class =>
        item ?? throw new ArgumentException("The list holds a null entry.", paramName);

    /// <summary>Throws when an IPv6 object meets a manager whose IPv6 is disabled.</summary>
    public static void EnsureFamilyEnabled(bool ipv6, NatMapOptions options)
    {
        if (ipv6 && !options.EnableIpv6)
        {
            throw new InvalidOperationException(
                "The object is IPv6, but IPv6 is disabled (NatMapOptions.EnableIpv6 is false).");
        }
    }

    /// <summary><see cref="EnsureFamilyEnabled(bool, NatMapOptions)"/> for a set of rules.</summary>
    public static void EnsureFamilyEnabled(IReadOnlyList<IptablesRule> rules, NatMapOptions options) =>
        EnsureFamilyEnabled(rules.Any(static r => r.Family == AddressFamily.InterNetworkV6), options);
}

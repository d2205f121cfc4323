using System.Net.Sockets;

namespace NatMap.Iptables.Internal;

/// <summary>
/// Applies the rule changes of a plan to the kernel and leaves in the <see cref="Operation"/> how to undo exactly what
/// took effect, a partial commit included. The one place a backend differs in writing: chosen once per manager from
/// <see cref="NatMapOptions.ApplyMode"/> (<see cref="RestoreApplier"/>, <see cref="PerRuleApplier"/>); a native
/// nftables backend implements it with the renderer in <c>Nftables/</c>. <see cref="PlanApplier"/> calls it once per
/// family for each run of consecutive rule changes, between host changes.
/// </summary>
internal interface IRuleApplier
{
    /// <summary>
    /// Applies <paramref name="changes"/>, all of <paramref name="family"/> and in table order, and journals their undo
    /// in <paramref name="operation"/>.
    /// </summary>
    /// <exception cref="IptablesCommandException">A change failed; what took effect before it is journaled.</exception>
    Task ApplyAsync(Operation operation, AddressFamily family, IReadOnlyList<RuleChange> changes, CancellationToken cancellationToken);
}

using NatMap.Iptables.Rules;

namespace NatMap.Iptables.Internal;

/// <summary>
/// The one home of the host's settings: <c>route_localnet</c>, whether the library manages it
/// (<see cref="NatMapOptions.ManageHostSettings"/>), how it is read, when it is turned on or off, and who owns it. The
/// ownership lives in the kernel, not in this object: a loopback guard commented <c>:route_localnet</c> says the
/// library turned the setting on (<see cref="NatRuleBuilder.RouteLocalnetComment"/>), and FlushAll turns it off.
/// Pure but for <see cref="ReadRouteLocalnetAsync"/>, so the planners can use it.
/// </summary>
internal sealed class HostSettings(HostCommands commands, NatRuleBuilder builder, bool manages)
{
    /// <summary>What FlushAll does about <c>route_localnet</c>, judged from the raw table alone.</summary>
    public enum FlushDecision
    {
        /// <summary>Leave it.</summary>
        Leave,

        /// <summary>Turn it off: a guard says the library turned it on.</summary>
        TurnOff,

        /// <summary>Turn it off if it is on: the library manages host settings and only its own guards stand.</summary>
        TurnOffIfOn,
    }

    /// <summary>Gets whether the library manages host settings.</summary>
    public bool Manages => manages;

    /// <summary>Reads <c>route_localnet</c>: <c>0</c> or <c>1</c>.</summary>
    public async Task<string> ReadRouteLocalnetAsync(CommandExecutor executor, CancellationToken cancellationToken)
    {
        var result = await executor.RunCheckedAsync(commands.ReadSysctl(NatMapDefaults.RouteLocalnetSetting), cancellationToken).ConfigureAwait(false);
        return result.StandardOutput.Trim();
    }

    /// <summary>The value of <c>route_localnet</c> when the library manages host settings, else <see langword="null"/> (not read).</summary>
    public async Task<string?> ManagedRouteLocalnetAsync(CommandExecutor executor, CancellationToken cancellationToken) =>
        manages ? await ReadRouteLocalnetAsync(executor, cancellationToken).ConfigureAwait(false) : null;

    /// <summary>
    /// Preflight of a mapping that admits 127.0.0.1 when the library leaves the host alone: without
    /// <c>route_localnet</c> the loopback part of the mapping would silently not work.
    /// </summary>
    /// <exception cref="InvalidOperationException"><c>route_localnet</c> is 0.</exception>
    public async Task RequireForLoopbackAsync(CommandExecutor executor, DockerPortMap map, CancellationToken cancellationToken)
    {
        if (manages || !NatRuleBuilder.AdmitsIpv4Loopback(map.HostEndpoint))
        {
            return;
        }

        if (await ReadRouteLocalnetAsync(executor, cancellationToken).ConfigureAwait(false) == "0")
        {
            throw new InvalidOperationException(
                $"The mapping {map.HostEndpoint} -> {map.ContainerEndpoint} admits 127.0.0.1, which needs {NatMapDefaults.RouteLocalnetSetting}=1, and it is 0. " +
                $"NatMapOptions.ManageHostSettings is false, so the library leaves the host alone: run 'sysctl -w {NatMapDefaults.RouteLocalnetSetting}=1' " +
                "(after SetupAsync has added the loopback guard), enable ManageHostSettings, or bind the mapping to a non-loopback address.");
        }
    }

    /// <summary>Whether Setup is to turn <c>route_localnet</c> on: the library manages host settings (the value was read) and it is off.</summary>
    public static bool TurnsOn(string? routeLocalnet) => routeLocalnet is not null && routeLocalnet != "1";

    /// <summary>
    /// Whether the loopback guard Setup puts back is the marked one: when Setup turns the setting on, or when it is
    /// already on and no loopback guard at all stands (another tool flushed the raw table after the library turned it
    /// on), so that FlushAll is then the one to turn it off.
    /// </summary>
    public static bool MarksGuard(string? routeLocalnet, int loopbackGuards) =>
        TurnsOn(routeLocalnet) || (routeLocalnet == "1" && loopbackGuards == 0);

    /// <summary>route_localnet goes on last, after the raw-table guard that keeps packets to 127.0.0.0/8 from other interfaces out.</summary>
    public void AddTurnOn(List<Change> plan, string? routeLocalnet)
    {
        if (TurnsOn(routeLocalnet))
        {
            plan.Add(Write("1", undo: "0"));
        }
    }

    /// <summary>
    /// Off first, while the guard still stands; undone (back to 1) only after every later step was undone, the guard's
    /// return included, because rollback stops at the first undo that fails.
    /// </summary>
    public void AddTurnOffFirst(List<Change> plan) => plan.Insert(0, Write("0", undo: "1"));

    /// <summary>
    /// Whether FlushAll turns <c>route_localnet</c> off before it deletes this prefix's loopback guards: when a guard
    /// says the library turned it on, or when the library manages host settings, the setting is 1 and no other
    /// loopback guard (another prefix's, or a foreign one) would remain. So FlushAll never leaves route_localnet=1
    /// without a guard, whoever turned it on.
    /// </summary>
    public FlushDecision OnFlush(TableListing raw)
    {
        var guards = raw.InChain("PREROUTING").Where(builder.IsLoopbackGuard).ToList();
        var ours = guards.Where(r => builder.IsOwned(r.Comment)).ToList();
        if (ours.Any(r => r.Comment == builder.RouteLocalnetComment))
        {
            return FlushDecision.TurnOff;
        }

        return manages && ours.Count > 0 && ours.Count == guards.Count ? FlushDecision.TurnOffIfOn : FlushDecision.Leave;
    }

    private HostChange Write(string value, string undo) => new(
        commands.WriteSysctl(NatMapDefaults.RouteLocalnetSetting, value),
        commands.WriteSysctl(NatMapDefaults.RouteLocalnetSetting, undo));
}

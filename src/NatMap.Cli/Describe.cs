using NatMap.Iptables;

namespace NatMap.Cli;

/// <summary>One line per object, as list, sync and audit print them.</summary>
internal static class Describe
{
    public static string Object(object item) => item switch
    {
        DockerPortMap m => $"docker  {Proto(m.Protocol)} {m.HostEndpoint} -> {m.ContainerEndpoint} (container {m.ContainerId})",
        DnatConfig d => $"dnat    {Proto(d.Protocol)} {d.ExternalIp}:{d.Ports} -> {d.InternalIp}{(d.InternalPort is { } p ? $":{p}" : string.Empty)}{(d.ExternalInterface is { } i ? $" (in {i})" : string.Empty)}",
        SnatConfig s => $"snat    {s.InternalIp} -> {s.ExternalIp} (out {s.ExternalInterface})",
        HairpinConfig h => $"hairpin {Proto(h.Protocol)} {h.ExternalIp}:{h.Ports} -> {h.InternalIp}{(h.LanCidr is { } lan ? $" (lan {lan})" : string.Empty)}",
        _ => item.ToString() ?? string.Empty,
    };

    public static IEnumerable<string> State(NatMapState state)
    {
        var all = Items(state).ToList();
        return all.Count == 0 ? ["# nothing installed"] : all.Select(Object);
    }

    public static IEnumerable<object> Items(NatMapState state) =>
        state.DockerMaps.Cast<object>().Concat(state.Dnats).Concat(state.Snats).Concat(state.Hairpins);

    private static string Proto(TransportProtocol protocol) => protocol == TransportProtocol.Udp ? "udp" : "tcp";
}

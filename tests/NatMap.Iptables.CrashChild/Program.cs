// Usage: NatMap.Iptables.CrashChild NAMESPACE BACKEND GENERATION COUNT
// Syncs the namespace's tables to COUNT Docker mappings of GENERATION (0 or 1: two disjoint sets), then prints "synced".
using System.Globalization;
using NatMap.Iptables;
using NatMap.Iptables.CrashChild;

var (ns, backend, generation, count) = (args[0], args[1], int.Parse(args[2], CultureInfo.InvariantCulture), int.Parse(args[3], CultureInfo.InvariantCulture));
var manager = new IptablesManager(new CliWrapCommandRunner(TimeSpan.FromMinutes(5)), new NatMapOptions
{
    NetworkNamespace = ns,
    IptablesPath = $"iptables-{backend}",
    Ip6tablesPath = $"ip6tables-{backend}",
    EnableIpv6 = false,
    CommandTimeout = TimeSpan.FromMinutes(5),
});
await manager.SyncAsync(new NatMapState { DockerMaps = CrashSets.Maps(generation, count) });
Console.WriteLine("synced");

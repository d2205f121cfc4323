using System.Net;
using NatMap.Iptables;

namespace NatMap.Iptables.CrashChild;

/// <summary>The two disjoint sets of mappings the crash test switches between.</summary>
public static class CrashSets
{
    /// <summary>Mappings of one generation: other ids, host ports and container addresses per generation.</summary>
    public static DockerPortMap[] Maps(int generation, int count) =>
        [.. Enumerable.Range(0, count).Select(i => new DockerPortMap(
            $"g{generation}c{i}",
            new IPEndPoint(IPAddress.Any, 10_000 + (generation * 20_000) + (i % 20_000)),
            new IPEndPoint(new IPAddress([172, (byte)(17 + generation), (byte)(i / 250), (byte)((i % 250) + 2)]), 80)))];
}

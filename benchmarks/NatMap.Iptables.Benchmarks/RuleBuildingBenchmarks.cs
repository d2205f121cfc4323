using System.Net;
using BenchmarkDotNet.Attributes;
using NatMap.Iptables;
using NatMap.Iptables.Rules;

namespace NatMap.Iptables.Benchmarks;

/// <summary>
/// Building the rules of 10,000 Docker mappings in-process: validating the models (baseline), building the rules,
/// and rendering every rule's argv. No process runs.
/// </summary>
[MemoryDiagnoser]
public class RuleBuildingBenchmarks
{
    private const int Mappings = 10_000;
    private (string Id, IPEndPoint Host, IPEndPoint Container)[] _inputs = [];
    private DockerPortMap[] _maps = [];
    private DockerPortMap[] _maps6 = [];
    private readonly NatRuleBuilder _builder = NatRuleBuilder.Default;

    [GlobalSetup]
    public void Setup()
    {
        _inputs = Enumerable.Range(0, Mappings)
            .Select(i => ($"c{i}", new IPEndPoint(IPAddress.Any, 10_000 + i), new IPEndPoint(new IPAddress([172, 17, (byte)(i / 250), (byte)((i % 250) + 2)]), 80)))
            .ToArray();
        _maps = _inputs.Select(x => new DockerPortMap(x.Id, x.Host, x.Container)).ToArray();
        _maps6 = Enumerable.Range(0, Mappings)
            .Select(i => new DockerPortMap($"c{i}", new IPEndPoint(IPAddress.IPv6Any, 10_000 + i), new IPEndPoint(IPAddress.Parse($"fd00::{i + 2:x}"), 80)))
            .ToArray();
    }

    [Benchmark(Baseline = true, Description = "validate 10k models")]
    public int ValidateModels()
    {
        var count = 0;
        foreach (var (id, host, container) in _inputs)
        {
            count += new DockerPortMap(id, host, container).ContainerEndpoint.Port;
        }

        return count;
    }

    [Benchmark(Description = "build rules, 10k IPv4 maps")]
    public int BuildRules()
    {
        var count = 0;
        foreach (var map in _maps)
        {
            count += _builder.BuildDockerMap(map).Count;
        }

        return count;
    }

    [Benchmark(Description = "build rules + argv, 10k IPv4 maps")]
    public int BuildRulesAndArguments() => CountArguments(_maps);

    [Benchmark(Description = "build rules + restore payload, 10k IPv4 maps")]
    public int BuildRestorePayload()
    {
        var changes = new List<Internal.RuleChange>(3 * Mappings);
        foreach (var map in _maps)
        {
            foreach (var rule in _builder.BuildDockerMap(map))
            {
                changes.Add(Internal.RuleChange.Add(rule));
            }
        }

        return Internal.RestoreScript.Render(changes).Length;
    }

    [Benchmark(Description = "build rules + argv, 10k IPv6 maps")]
    public int BuildRulesAndArgumentsIpv6() => CountArguments(_maps6);

    private int CountArguments(DockerPortMap[] maps)
    {
        var count = 0;
        foreach (var map in maps)
        {
            foreach (var rule in _builder.BuildDockerMap(map))
            {
                count += rule.ToArguments(RuleAction.Add).Count;
            }
        }

        return count;
    }
}

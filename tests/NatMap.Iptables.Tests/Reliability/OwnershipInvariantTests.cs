using System.Net;
using System.Net.Sockets;
using FsCheck;
using FsCheck.Fluent;
using NatMap.Iptables.Rules;
using NatMap.Iptables.Testing;

namespace NatMap.Iptables.Tests.Reliability;

/// <summary>
/// The invariant of review item 3, as a property: after any operation, each owned object it touched has exactly one copy
/// of each of its rules or none at all, whatever came before, copies another process or an older version left included.
/// Random sequences of installs, removes, syncs, Setup and FlushAll of a few objects of every kind, in both transports,
/// with foreign duplicates of owned rules slipped in between, on the stateful fake.
/// </summary>
public sealed class OwnershipInvariantTests
{
    private const int Sequences = 150;

    private static readonly object[] Objects =
    [
        new DockerPortMap("web", IPEndPoint.Parse("0.0.0.0:8080"), IPEndPoint.Parse("172.17.0.2:80")),
        new DockerPortMap("db", IPEndPoint.Parse("127.0.0.1:5432"), IPEndPoint.Parse("172.17.0.3:5432")),
        new DockerPortMap("web6", IPEndPoint.Parse("[::]:8080"), IPEndPoint.Parse("[fd00::2]:80"), TransportProtocol.Udp),
        new DnatConfig(IPAddress.Parse("203.0.113.5"), IPAddress.Parse("10.0.0.2"), PortSet.Parse("443,8443"), ExternalInterface: "eth0"),
        new SnatConfig(IPAddress.Parse("fd00::2"), IPAddress.Parse("2001:db8::5"), "wan+"),
        new HairpinConfig(IPAddress.Parse("203.0.113.5"), IPAddress.Parse("192.168.1.20"), 80, LanCidr: IPNetwork.Parse("192.168.1.0/24")),
    ];

    private enum Kind
    {
        Install,
        Remove,
        Duplicate,
        Sync,
        Setup,
        FlushAll,
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static IReadOnlyList<IptablesRule> Rules(NatRuleBuilder builder, object item) => item switch
    {
        DockerPortMap map => builder.BuildDockerMap(map, IPNetwork.Parse(map.IsIPv6 ? "fd00::/64" : "172.17.0.0/16")),
        DnatConfig dnat => builder.BuildDnat(dnat),
        SnatConfig snat => builder.BuildSnat(snat),
        HairpinConfig hairpin => builder.BuildHairpin(hairpin),
        _ => throw new ArgumentOutOfRangeException(nameof(item)),
    };

    private static Task Run(IptablesManager m, Kind kind, object item) => (kind, item) switch
    {
        (Kind.Install, DockerPortMap x) => m.InstallDockerMapAsync(x, Ct),
        (Kind.Install, DnatConfig x) => m.InstallDnatAsync(x, Ct),
        (Kind.Install, SnatConfig x) => m.InstallSnatAsync(x, Ct),
        (Kind.Install, HairpinConfig x) => m.InstallHairpinAsync(x, Ct),
        (Kind.Remove, DockerPortMap x) => m.RemoveDockerMapAsync(x, Ct),
        (Kind.Remove, DnatConfig x) => m.RemoveDnatAsync(x, Ct),
        (Kind.Remove, SnatConfig x) => m.RemoveSnatAsync(x, Ct),
        (Kind.Remove, HairpinConfig x) => m.RemoveHairpinAsync(x, Ct),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>How many times each of the object's rules is in the tables, as iptables-save shows them.</summary>
    private static int[] Copies(FakeIptables host, NatRuleBuilder builder, object item)
    {
        var saved = (host.Save() + "\n" + host.Save(AddressFamily.InterNetworkV6)).Split('\n');
        return [.. Rules(builder, item).Select(rule =>
        {
            var text = string.Join(' ', ["-A", rule.Chain, .. rule.Specification.Select(a => a.Contains(':', StringComparison.Ordinal) && a.StartsWith("natmap:", StringComparison.Ordinal) ? $"\"{a}\"" : a)]);
            return saved.Count(l => l == text);
        })];
    }

    private static void ShouldBeOnceOrNotAtAll(int[] copies, object item, string after) =>
        copies.Should().Match<int[]>(c => c.All(n => n == 1) || c.All(n => n == 0), $"after {after}, {item} has each rule once or not at all: [{string.Join(',', copies)}]");

#pragma warning disable xUnit1031 // FsCheck properties are synchronous; the fake completes at once.
    [Fact]
    public void AnySequence_EachTouchedObjectHasEachRuleOnceOrNotAtAll()
    {
        var step = from kind in Gen.Frequency((4, Gen.Constant(Kind.Install)), (3, Gen.Constant(Kind.Remove)), (3, Gen.Constant(Kind.Duplicate)),
                       (1, Gen.Constant(Kind.Sync)), (1, Gen.Constant(Kind.Setup)), (1, Gen.Constant(Kind.FlushAll)))
                   from index in Gen.Choose(0, Objects.Length - 1)
                   from subset in Gen.Elements(Objects).ArrayOf()
                   select (kind, index, subset);
        var cases = from transport in Gen.Elements(RuleApplyMode.Batch, RuleApplyMode.PerRule)
                    from steps in step.ArrayOf()
                    select (transport, steps);
        var duplicates = 0;
        Prop.ForAll(cases.ToArbitrary(), input =>
        {
            var host = new FakeIptables().AddAddress("docker0", IPAddress.Parse("172.17.0.1"), 16).AddAddress("docker0", IPAddress.Parse("fd00::1"), 64);
            var manager = new IptablesManager(host, new NatMapOptions { ApplyMode = input.transport });
            var builder = manager.RuleBuilder;
            manager.SetupAsync(Ct).GetAwaiter().GetResult();
            foreach (var (kind, index, subset) in input.steps)
            {
                var item = Objects[index];
                switch (kind)
                {
                    case Kind.Install or Kind.Remove:
                        Run(manager, kind, item).GetAwaiter().GetResult();
                        ShouldBeOnceOrNotAtAll(Copies(host, builder, item), item, kind.ToString());
                        Copies(host, builder, item).Sum().Should().Be(kind == Kind.Remove ? 0 : Rules(builder, item).Count);
                        break;
                    case Kind.Duplicate:
                        // Another writer adds a copy of each rule the object already has (a second process, an older version).
                        var rules = Rules(builder, item);
                        var copies = Copies(host, builder, item);
                        for (var i = 0; i < rules.Count; i++)
                        {
                            if (copies[i] > 0)
                            {
                                var rule = rules[i];
                                var program = rule.Family == System.Net.Sockets.AddressFamily.InterNetworkV6 ? "ip6tables" : "iptables";
                                host.RunAsync(new CommandSpec(program, ["-t", rule.Table, "-A", rule.Chain, .. rule.Specification]), Ct).GetAwaiter().GetResult().ExitCode.Should().Be(0);
                                duplicates++;
                            }
                        }

                        break;
                    case Kind.Sync:
                        var desired = subset.Distinct().ToArray();
                        manager.SyncAsync(new NatMapState
                        {
                            DockerMaps = [.. desired.OfType<DockerPortMap>()],
                            Dnats = [.. desired.OfType<DnatConfig>()],
                            Snats = [.. desired.OfType<SnatConfig>()],
                            Hairpins = [.. desired.OfType<HairpinConfig>()],
                        }, Ct).GetAwaiter().GetResult();
                        foreach (var any in Objects)
                        {
                            Copies(host, builder, any).Sum().Should().Be(desired.Contains(any) ? Rules(builder, any).Count : 0, $"after Sync, {any}");
                        }

                        break;
                    case Kind.Setup:
                        manager.SetupAsync(Ct).GetAwaiter().GetResult();
                        break;
                    case Kind.FlushAll:
                        manager.FlushAllAsync(Ct).GetAwaiter().GetResult();
                        Objects.Should().OnlyContain(any => Copies(host, builder, any).Sum() == 0);
                        manager.SetupAsync(Ct).GetAwaiter().GetResult();
                        break;
                }
            }

            return true;
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(Sequences));
        duplicates.Should().BeGreaterThan(Sequences, "the property must have met duplicated rules");
    }
#pragma warning restore xUnit1031
}

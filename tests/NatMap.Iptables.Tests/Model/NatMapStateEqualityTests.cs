using static NatMap.Iptables.Tests.TestData;

namespace NatMap.Iptables.Tests.Model;

public sealed class NatMapStateEqualityTests
{
    private static readonly DockerPortMap Web = Map();
    private static readonly DockerPortMap Api = Map("0.0.0.0:9090", "172.17.0.3:90", id: "api");
    private static readonly DnatConfig Dnat = new(Ip("203.0.113.5"), Ip("10.0.0.2"), 443);
    private static readonly SnatConfig Snat = new(Ip("10.0.0.2"), Ip("203.0.113.5"), "eth0");
    private static readonly HairpinConfig Hairpin = new(Ip("203.0.113.5"), Ip("10.0.0.2"), 443);

    private static NatMapState State(params DockerPortMap[] maps) => new() { DockerMaps = maps, Dnats = [Dnat], Snats = [Snat], Hairpins = [Hairpin] };

    /// <summary>Pairs that must compare equal, each list a new instance so reference equality cannot pass.</summary>
    public static TheoryData<NatMapState, NatMapState> EqualPairs => new()
    {
        { new NatMapState(), new NatMapState() },                          // both empty
        { State(Web, Api), State(Web, Api) },                              // same objects, same order, other list instances
        { State(Web, Api), State(Api, Web) },                              // same objects, other order
        { State(Web, Web, Api), State(Web, Api, Web) },                    // a repeat counted on both sides
        { State(Web), new NatMapState { DockerMaps = [Map()], Dnats = [new(Ip("203.0.113.5"), Ip("10.0.0.2"), 443)], Snats = [Snat], Hairpins = [Hairpin] } }, // equal values, not the same instances
    };

    /// <summary>Pairs that must compare unequal.</summary>
    public static TheoryData<NatMapState, NatMapState> UnequalPairs => new()
    {
        { State(Web), State(Api) },                                        // another object
        { State(Web), State(Web, Api) },                                   // one more object
        { State(Web, Web), State(Web, Api) },                              // same count, a repeat instead of another object
        { State(Web, Web, Api), State(Web, Api, Api) },                    // same objects, repeated differently
        { State(Web), State(Web) with { Snats = [] } },                    // another list differs
        { State(Web), State(Web) with { Hairpins = [Hairpin with { LanCidr = System.Net.IPNetwork.Parse("10.0.0.0/24") }] } }, // an object differs in one field
    };

    [Theory]
    [MemberData(nameof(EqualPairs))]
    public void Equals_SameObjectsInAnyOrder_IsTrue_BothWays_WithEqualHashCodes(NatMapState left, NatMapState right)
    {
        (left == right).Should().BeTrue();
        (right == left).Should().BeTrue();
        (left != right).Should().BeFalse();
        left.Equals(right).Should().BeTrue();
        left.Equals((object)right).Should().BeTrue();
        left.GetHashCode().Should().Be(right.GetHashCode());
    }

    [Theory]
    [MemberData(nameof(UnequalPairs))]
    public void Equals_OtherObjects_IsFalse_BothWays(NatMapState left, NatMapState right)
    {
        (left == right).Should().BeFalse();
        (right == left).Should().BeFalse();
        (left != right).Should().BeTrue();
        left.Equals((object)right).Should().BeFalse();
    }

    [Fact]
    public void Equals_Null_IsFalse()
    {
        var state = State(Web);

        state.Equals(null).Should().BeFalse();
        (state == null).Should().BeFalse();
    }

    [Fact]
    public void AsDictionaryKey_AnotherOrder_FindsTheSameEntry()
    {
        var seen = new HashSet<NatMapState> { State(Web, Api) };

        seen.Contains(State(Api, Web)).Should().BeTrue();
    }
}

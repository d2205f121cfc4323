using NatMap.Iptables.Testing;
using static NatMap.Iptables.Tests.TestData;

namespace NatMap.Iptables.Tests.Testing;

public sealed class PacketTraceTests
{
    private static PacketTrace Trace(params string[] steps) =>
        new(steps, Ep("172.17.0.2:80"), Ip("198.51.100.7"), Masqueraded: false, Dropped: false, DeliveredLocally: false, OutInterface: "docker0");

    [Fact]
    public void Equals_SameStepsInOtherListInstances_IsTrue_WithEqualHashCodes()
    {
        var left = Trace("nat PREROUTING: -A PREROUTING -j NATMAP", "route: forward via docker0");
        var right = Trace(["nat PREROUTING: -A PREROUTING -j NATMAP", "route: forward via docker0"]);

        (left == right).Should().BeTrue();
        (left != right).Should().BeFalse();
        left.Equals((object)right).Should().BeTrue();
        left.GetHashCode().Should().Be(right.GetHashCode());
    }

    [Fact]
    public void Equals_SameStepsInAnotherOrder_IsFalse()
    {
        (Trace("a", "b") == Trace("b", "a")).Should().BeFalse("the steps are a path");
    }

    [Fact]
    public void Equals_OneOutcomeDiffers_IsFalse()
    {
        var trace = Trace("a");

        (trace == trace with { Steps = ["a", "b"] }).Should().BeFalse();
        (trace == trace with { FinalDestination = Ep("172.17.0.3:80") }).Should().BeFalse();
        (trace == trace with { FinalSource = Ip("198.51.100.8") }).Should().BeFalse();
        (trace == trace with { Masqueraded = true }).Should().BeFalse();
        (trace == trace with { Dropped = true }).Should().BeFalse();
        (trace == trace with { DeliveredLocally = true }).Should().BeFalse();
        (trace == trace with { OutInterface = null }).Should().BeFalse();
        (trace == null).Should().BeFalse();
    }

    [Fact]
    public void Equals_TwoTracesOfTheSamePacket_AreEqual()
    {
        var fake = new FakeIptables().AddAddress("eth0", Ip("203.0.113.5"), 24);
        var packet = new SimulatedPacket(Ip("198.51.100.7"), Ip("203.0.113.5"), TransportProtocol.Tcp, 8080) { InInterface = "eth0" };

        (fake.Trace(packet) == fake.Trace(packet)).Should().BeTrue();
    }
}

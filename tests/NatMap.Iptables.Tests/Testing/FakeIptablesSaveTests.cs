using System.Net.Sockets;
using NatMap.Iptables.Testing;

namespace NatMap.Iptables.Tests.Testing;

public sealed class FakeIptablesSaveTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Save_ByAddressFamily_ReadsThatFamilysTables_AndTheNamespaceGiven()
    {
        var fake = new FakeIptables();
        _ = await fake.RunAsync(new CommandSpec("ip6tables", ["-t", "nat", "-N", "SIX"]), Ct);
        _ = await fake.RunAsync(new CommandSpec("ip", ["netns", "exec", "lab", "iptables", "-t", "nat", "-N", "LAB"]), Ct);

        fake.Save(AddressFamily.InterNetworkV6).Should().Contain(":SIX -");
        fake.Save().Should().NotContain(":SIX -").And.Be(fake.Save(AddressFamily.InterNetwork));
        fake.Save(AddressFamily.InterNetwork, "lab").Should().Contain(":LAB -");
        fake.Save(AddressFamily.InterNetwork).Should().NotContain(":LAB -");
    }

    [Theory]
    [InlineData(AddressFamily.Unix)]
    [InlineData(AddressFamily.Unspecified)]
    public void Save_NotAnIpFamily_Refused(AddressFamily family) =>
        FluentActions.Invoking(() => new FakeIptables().Save(family)).Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("family");
}

using System.Net;
using Microsoft.Extensions.DependencyInjection;
using NatMap.Iptables.Testing;

namespace NatMap.Iptables.Tests.Testing;

#pragma warning disable xUnit1051 // Exactly as the README shows it, without the test's cancellation token.

/// <summary>The README's FakeIptables example, as written there, so the example keeps working.</summary>
public sealed class FakeIptablesReadmeTests
{
    [Fact]
    public async Task Sync_removes_a_mapping_nobody_wants_any_more()
    {
        var host = new FakeIptables().AddAddress("eth0", IPAddress.Parse("10.0.0.5"), 24);   // for addrtype LOCAL
        var services = new ServiceCollection().AddNatMap(o => o.EnableIpv6 = false).AddFakeCommandRunner(host);
        using var provider = services.BuildServiceProvider();
        var manager = provider.GetRequiredService<IIptablesManager>();
        var iptables = provider.GetRequiredService<FakeIptables>();
        var web = new DockerPortMap("web", IPEndPoint.Parse("0.0.0.0:8080"), IPEndPoint.Parse("172.17.0.2:80"));
        var api = new DockerPortMap("api", IPEndPoint.Parse("0.0.0.0:8081"), IPEndPoint.Parse("172.17.0.3:80"));
        await manager.SyncAsync(new NatMapState { DockerMaps = [web, api] });

        await manager.SyncAsync(new NatMapState { DockerMaps = [web] });

        Assert.Equal([web], (await manager.ListAsync()).DockerMaps);
        Assert.DoesNotContain("natmap:docker:api", iptables.Save());   // what iptables-save would print
        var trace = iptables.Trace(new SimulatedPacket(IPAddress.Parse("192.0.2.7"), IPAddress.Parse("10.0.0.5"),
            TransportProtocol.Tcp, 8080) { InInterface = "eth0" });
        Assert.Equal(IPEndPoint.Parse("172.17.0.2:80"), trace.FinalDestination);
    }
}

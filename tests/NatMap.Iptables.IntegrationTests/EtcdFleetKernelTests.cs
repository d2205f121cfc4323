using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NatMap.Iptables.Hosting;
using NatMap.Iptables.IntegrationTests.Infrastructure;

namespace NatMap.Iptables.IntegrationTests;

/// <summary>
/// A real etcd on loopback drives two hosts (two namespaces, each with its own generic host and its own key): a key
/// change reaches only its host; etcd is stopped and started again, and the host keeps its rules meanwhile and picks up
/// changes afterwards.
/// </summary>
// Follows etcd within a bound: run alone, so other tests' load does not stretch it.
[Collection(nameof(RunAlone))]
public sealed class EtcdFleetKernelTests
{
    private const string KeyA = "/natmap/hosts/a", KeyB = "/natmap/hosts/b";
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task KeyChange_ReachesOnlyItsHost_AndAHostRidesOutAnEtcdRestart()
    {
        await using var etcd = await EtcdServer.StartAsync();
        await using var nsA = await TestNamespace.CreateAsync("nft");
        await using var nsB = await TestNamespace.CreateAsync("nft");
        await etcd.PutAsync(KeyA, Map("web", 8080));
        await etcd.PutAsync(KeyB, Map("db", 5432));
        using var hostA = BuildHost(etcd, nsA, KeyA);
        using var hostB = BuildHost(etcd, nsB, KeyB);
        var (readerA, readerB) = (nsA.Manager(o => o.EnableIpv6 = false), nsB.Manager(o => o.EnableIpv6 = false));

        await hostA.StartAsync(Ct);
        await hostB.StartAsync(Ct);

        (await readerA.ListAsync(Ct)).DockerMaps.Should().Equal(Expected("web", 8080));
        (await readerB.ListAsync(Ct)).DockerMaps.Should().Equal(Expected("db", 5432));
        var rulesB = await nsB.SaveAsync();

        // A change to A's key reaches A, and B is left alone.
        var changed = Stopwatch.StartNew();
        await etcd.PutAsync(KeyA, Map("web", 8081));
        await UntilAsync(async () => (await readerA.ListAsync(Ct)).DockerMaps.SequenceEqual(Expected("web", 8081)));
        var followedIn = changed.Elapsed;
        (await nsB.SaveAsync()).Should().Be(rulesB);
        (await HealthAsync(hostB)).Data["syncs"].Should().Be(1L, "B never synced again: only A's key changed");

        // etcd goes away: A reports it and keeps its rules.
        var rulesA = await nsA.SaveAsync();
        await etcd.StopAsync();
        await UntilAsync(async () => (await HealthAsync(hostA)).Status == HealthStatus.Degraded);
        (await HealthAsync(hostA)).Description.Should().Contain("unreachable");
        await Task.Delay(TimeSpan.FromSeconds(1.5), Ct); // a check interval and more with etcd down
        (await nsA.SaveAsync()).Should().Be(rulesA, "the last good state stays applied while etcd is down");

        // etcd is back, with a change made after the restart: A reconnects, reads the key again, and follows.
        await etcd.StartAgainAsync();
        var restarted = Stopwatch.StartNew();
        await etcd.PutAsync(KeyA, Map("web", 8082));
        await UntilAsync(async () => (await readerA.ListAsync(Ct)).DockerMaps.SequenceEqual(Expected("web", 8082)));
        var recoveredIn = restarted.Elapsed;
        await UntilAsync(async () => (await HealthAsync(hostA)).Status == HealthStatus.Healthy);
        (await nsB.SaveAsync()).Should().Be(rulesB);

        await hostA.StopAsync(Ct);
        await hostB.StopAsync(Ct);
        Console.WriteLine($"etcd fleet: a key change reached its host in {followedIn.TotalMilliseconds:0} ms; after an etcd restart, in {recoveredIn.TotalMilliseconds:0} ms");
    }

    private static string Map(string id, int port) =>
        $$"""{ "dockerMaps": [ { "containerId": "{{id}}", "hostEndpoint": "0.0.0.0:{{port}}", "containerEndpoint": "10.0.0.2:80" } ] }""";

    private static DockerPortMap[] Expected(string id, int port) =>
        [new DockerPortMap(id, IPEndPoint.Parse($"0.0.0.0:{port}"), IPEndPoint.Parse("10.0.0.2:80"))];

    private static async Task<HealthCheckResult> HealthAsync(IHost host) =>
        await host.Services.GetRequiredService<NatMapHealthCheck>().CheckHealthAsync(new HealthCheckContext(), Ct);

    private static async Task UntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (!await condition())
        {
            DateTime.UtcNow.Should().BeBefore(deadline, $"the condition should hold within {Bound.TotalSeconds} s");
            await Task.Delay(100, Ct);
        }
    }

    private static IHost BuildHost(EtcdServer etcd, TestNamespace ns, string key)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [], DisableDefaults = true });
        builder.Logging.AddConsole().SetMinimumLevel(LogLevel.Error);
        builder.Services.AddNatMap(o => (o.NetworkNamespace, o.IptablesPath, o.Ip6tablesPath, o.EnableIpv6) = (ns.Name, ns.Iptables, ns.Ip6tables, false));
        builder.Services.AddNatMapHostedSync(
            sp =>
            {
                var options = new EtcdStateSourceOptions
                {
                    Key = key,
                    RequestTimeout = TimeSpan.FromSeconds(2),
                    MinReconnectDelay = TimeSpan.FromMilliseconds(200),
                    MaxReconnectDelay = TimeSpan.FromSeconds(1),
                };
                options.Endpoints.Add(etcd.Endpoint);
                return new EtcdStateSource(options, sp.GetService<ILogger<EtcdStateSource>>());
            },
            o => (o.Debounce, o.CheckInterval) = (TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1)));
        return builder.Build();
    }
}

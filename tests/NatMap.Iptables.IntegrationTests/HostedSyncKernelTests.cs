using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using NatMap.Iptables.Hosting;
using NatMap.Iptables.IntegrationTests.Infrastructure;

namespace NatMap.Iptables.IntegrationTests;

/// <summary>
/// A generic host (Host.CreateApplicationBuilder, appsettings.json with reload on change) runs the hosted sync against
/// the real kernel in a namespace: the rules follow the file, an invalid state leaves them as they were, and stopping
/// the host leaves them (or removes them, with FlushOnStop).
/// </summary>
// Follows the configuration within a bound: run alone, so other tests' load does not stretch it.
[Collection(nameof(RunAlone))]
public sealed class HostedSyncKernelTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);
    private readonly string _contentRoot = Directory.CreateTempSubdirectory("natmap-host-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => Directory.Delete(_contentRoot, recursive: true);

    [Fact]
    public async Task AppSettingsChanges_TheRulesFollow_AnInvalidStateLeavesThem_AndStopLeavesThem()
    {
        await using var ns = await TestNamespace.CreateAsync("nft");
        var reader = ns.Manager(o => o.EnableIpv6 = false);
        await WriteSettingsAsync(ns, """{ "dockerMaps": [ { "containerId": "web", "hostEndpoint": "0.0.0.0:8080", "containerEndpoint": "10.0.0.2:80" } ] }""");
        using var host = BuildHost();

        await host.StartAsync(Ct);

        (await reader.ListAsync(Ct)).DockerMaps.Should().Equal(new DockerPortMap("web", IPEndPoint.Parse("0.0.0.0:8080"), IPEndPoint.Parse("10.0.0.2:80")));
        (await HealthAsync(host)).Status.Should().Be(HealthStatus.Healthy);

        // The state changes in appsettings.json: the configuration reloads, and the host follows.
        await WriteSettingsAsync(ns, """{ "dnats": [ { "externalIp": "203.0.113.5", "internalIp": "10.0.0.3", "ports": "80,443" } ] }""");
        await UntilAsync(async () => (await reader.ListAsync(Ct)) is { DockerMaps.Count: 0, Dnats.Count: 1 });
        (await reader.ListAsync(Ct)).Dnats.Should().Equal(new DnatConfig(IPAddress.Parse("203.0.113.5"), IPAddress.Parse("10.0.0.3"), PortSet.Parse("80,443")));
        var followed = await ns.SaveAsync();

        // The state becomes invalid: rejected, reported, and the rules stay exactly as they were.
        await WriteSettingsAsync(ns, """{ "dnats": [ { "externalIp": "203.0.113.5", "internalIp": "10.0.0.3", "ports": "99999" } ] }""");
        await UntilAsync(async () => (await HealthAsync(host)).Status == HealthStatus.Degraded);
        (await HealthAsync(host)).Description.Should().Contain("$.dnats[0]");
        (await ns.SaveAsync()).Should().Be(followed);

        await host.StopAsync(Ct);

        (await ns.SaveAsync()).Should().Be(followed, "by default the rules outlive the service");
    }

    [Fact]
    public async Task Stop_WithFlushOnStop_RemovesTheRules()
    {
        await using var ns = await TestNamespace.CreateAsync("nft");
        await WriteSettingsAsync(ns, """{ "dockerMaps": [ { "containerId": "web", "hostEndpoint": "0.0.0.0:8080", "containerEndpoint": "10.0.0.2:80" } ] }""", flushOnStop: true);
        using var host = BuildHost();
        await host.StartAsync(Ct);
        (await ns.SaveAsync()).Should().Contain("natmap:docker:web");

        await host.StopAsync(Ct);

        (await ns.SaveAsync()).Should().NotContain("natmap").And.NotContain("NATMAP");
    }

    private static async Task<HealthCheckResult> HealthAsync(IHost host) =>
        await host.Services.GetRequiredService<NatMapHealthCheck>().CheckHealthAsync(new HealthCheckContext(), Ct);

    private static async Task UntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (!await condition())
        {
            DateTime.UtcNow.Should().BeBefore(deadline, $"the host should follow within {Bound.TotalSeconds} s");
            await Task.Delay(100, Ct);
        }
    }

    private IHost BuildHost()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = _contentRoot, Args = [] });
        builder.Services.AddNatMap(builder.Configuration.GetSection("NatMap:Options"));
        builder.Services.Configure<NatMapHostedSyncOptions>(builder.Configuration.GetSection("NatMap:Sync"));
        builder.Services.AddNatMapHostedSync(builder.Configuration.GetSection("NatMap:State"));
        return builder.Build();
    }

    /// <summary>Writes appsettings.json: this namespace's options, fast sync timings, and <paramref name="state"/>.</summary>
    private async Task WriteSettingsAsync(TestNamespace ns, string state, bool flushOnStop = false)
    {
        var settings = $$"""
            {
              "Logging": { "LogLevel": { "Default": "Warning" } },
              "NatMap": {
                "Options": { "NetworkNamespace": "{{ns.Name}}", "IptablesPath": "{{ns.Iptables}}", "Ip6tablesPath": "{{ns.Ip6tables}}", "EnableIpv6": false },
                "Sync": { "Debounce": "00:00:00.200", "CheckInterval": "00:00:01", "FlushOnStop": {{(flushOnStop ? "true" : "false")}} },
                "State": {{state}}
              }
            }
            """;
        await File.WriteAllTextAsync(Path.Combine(_contentRoot, "appsettings.json"), settings, Ct);
    }
}

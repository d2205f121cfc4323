// A consumer of the published packages: only their public surface, added by version from a local feed.
using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using NatMap.Iptables;
using NatMap.Iptables.Hosting;
using NatMap.Iptables.Testing;

var services = new ServiceCollection();
services.AddNatMap(o => o.EnableIpv6 = false);
services.AddFakeCommandRunner();
using var provider = services.BuildServiceProvider();

var manager = provider.GetRequiredService<IIptablesManager>();
var fake = provider.GetFakeCommandRunner();
var map = new DockerPortMap("web", IPEndPoint.Parse("0.0.0.0:8080"), IPEndPoint.Parse("172.17.0.2:80"));

await manager.InstallDockerMapAsync(map);

string[] expected =
[
    "-w", "10", "-t", "nat", "-A", "NATMAP-T3-30", "-p", "tcp", "-m", "tcp", "--dport", "8080",
    "-m", "comment", "--comment", "natmap:docker:web:tcp:0.0.0.0:8080:172.17.0.2:80",
    "-j", "DNAT", "--to-destination", "172.17.0.2:80",
];
var dnat = fake.Commands.SingleOrDefault(c => c.Arguments.Contains("--to-destination"))
    ?? throw new InvalidOperationException("No DNAT command was recorded:\n" + string.Join('\n', fake.Commands));
if (dnat.FileName != "iptables" || !dnat.Arguments.SequenceEqual(expected))
{
    throw new InvalidOperationException($"Unexpected DNAT argv: {dnat}");
}

try
{
    _ = new DockerPortMap("", IPEndPoint.Parse("0.0.0.0:8080"), IPEndPoint.Parse("172.17.0.2:80"));
    throw new InvalidOperationException("An empty container id was accepted.");
}
catch (ArgumentException e) when (e.ParamName == "ContainerId")
{
}

// The emulator: install, list, check the tables as iptables-save would print them, remove.
var emulated = new ServiceCollection();
emulated.AddNatMap(o => o.EnableIpv6 = false);
emulated.AddFakeCommandRunner(new FakeIptables());
using (var emulatedProvider = emulated.BuildServiceProvider())
{
    var onEmulator = emulatedProvider.GetRequiredService<IIptablesManager>();
    var iptables = emulatedProvider.GetRequiredService<FakeIptables>();
    await onEmulator.SetupAsync();
    var afterSetup = iptables.Save();
    await onEmulator.InstallDockerMapAsync(map);
    const string rule = "-A NATMAP-T3-30 -p tcp -m tcp --dport 8080 -m comment --comment \"natmap:docker:web:tcp:0.0.0.0:8080:172.17.0.2:80\" -j DNAT --to-destination 172.17.0.2:80";
    if (!iptables.Save().Contains(rule, StringComparison.Ordinal))
    {
        throw new InvalidOperationException("The emulated nat table lacks the DNAT rule:\n" + iptables.Save());
    }

    var listed = await onEmulator.ListAsync();
    if (listed.DockerMaps.Count != 1 || listed.DockerMaps[0] != map)
    {
        throw new InvalidOperationException($"ListAsync read back {listed.DockerMaps.Count} mappings.");
    }

    await onEmulator.RemoveDockerMapAsync(map);
    if (iptables.Save() != afterSetup)
    {
        throw new InvalidOperationException("Removing the mapping left rules behind:\n" + iptables.Save());
    }
}

// The hosting package: options and state from configuration, the hosted sync on the emulator, its health check.
var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
{
    ["NatMap:Options:EnableIpv6"] = "false",
    ["NatMap:State:DockerMaps:0:ContainerId"] = "web",
    ["NatMap:State:DockerMaps:0:HostEndpoint"] = "0.0.0.0:8080",
    ["NatMap:State:DockerMaps:0:ContainerEndpoint"] = "172.17.0.2:80",
}).Build();
var hosted = new ServiceCollection();
hosted.AddNatMap(configuration.GetSection("NatMap:Options"));
hosted.AddFakeCommandRunner(new FakeIptables());
hosted.AddNatMapHostedSync(configuration.GetSection("NatMap:State"));
await using (var hostedProvider = hosted.BuildServiceProvider())
{
    foreach (var service in hostedProvider.GetServices<IHostedService>())
    {
        await service.StartAsync(CancellationToken.None);
    }

    var listed = await hostedProvider.GetRequiredService<IIptablesManager>().ListAsync();
    if (listed.DockerMaps.Count != 1 || listed.DockerMaps[0] != map)
    {
        throw new InvalidOperationException($"The hosted sync installed {listed.DockerMaps.Count} mappings from configuration.");
    }

    var health = await hostedProvider.GetRequiredService<NatMapHealthCheck>().CheckHealthAsync(new HealthCheckContext());
    if (health.Status != HealthStatus.Healthy || (long)health.Data["syncs"] != 1)
    {
        throw new InvalidOperationException($"The hosted sync reports {health.Status}: {health.Description}");
    }

    foreach (var service in hostedProvider.GetServices<IHostedService>())
    {
        await service.StopAsync(CancellationToken.None);
    }
}

// Each target framework runs on its own runtime: net8.0 on .NET 8, not rolled forward onto a newer one.
var target = new System.Runtime.Versioning.FrameworkName(AppContext.TargetFrameworkName!);
if (Environment.Version.Major != target.Version.Major)
{
    throw new InvalidOperationException($"The {target} build runs on .NET {Environment.Version}.");
}

Console.WriteLine($"package smoke on {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription} (Environment.Version {Environment.Version}, {AppContext.TargetFrameworkName}): OK ({fake.Commands.Count} commands recorded, DNAT argv as expected; FakeIptables install, list and remove as expected; hosted sync from configuration healthy)");

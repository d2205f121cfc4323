// A worker service that keeps this host's published ports at what appsettings.json says, follows edits to the file,
// puts the rules back when another tool flushes them, and serves its health at http://127.0.0.1:8079/healthz.
// Run it as root (or with CAP_NET_ADMIN): sudo dotnet run --project samples/NatMap.WorkerSample
using NatMap.Iptables.Hosting;

var builder = WebApplication.CreateBuilder(args);

// NatMap:Options binds NatMapOptions (validated at start-up); NatMap:Sync the hosted sync's timings; NatMap:State is
// the desired state, in the same shape as the JSON state file. Environment variables override any of it:
// NatMap__State__DockerMaps__0__HostEndpoint=0.0.0.0:9090
builder.Services.AddNatMap(builder.Configuration.GetSection("NatMap:Options"));
builder.Services.Configure<NatMapHostedSyncOptions>(builder.Configuration.GetSection("NatMap:Sync"));
builder.Services.AddNatMapHostedSync(builder.Configuration.GetSection("NatMap:State"));

// Or follow a JSON file, or this host's etcd key, instead:
// builder.Services.AddNatMapHostedSync(_ => new JsonFileStateSource("/etc/natmap/state.json"));
// builder.Services.AddNatMapHostedSync(sp => new EtcdStateSource(
//     new EtcdStateSourceOptions { Key = $"/natmap/hosts/{Environment.MachineName}", Endpoints = { new Uri("http://10.0.0.1:2379") } },
//     sp.GetService<ILogger<EtcdStateSource>>()));

builder.Services.AddHealthChecks().AddCheck<NatMapHealthCheck>("natmap");

var app = builder.Build();

// Healthy: the host matches the state. Degraded (still 200, so a load balancer keeps the node): the last state was
// rejected or its source is unreachable, and the last good one stays applied. Unhealthy (503): syncs are failing.
app.MapHealthChecks("/healthz", new Microsoft.AspNetCore.Diagnostics.HealthChecks.HealthCheckOptions
{
    ResultStatusCodes =
    {
        [Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy] = StatusCodes.Status200OK,
        [Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Degraded] = StatusCodes.Status200OK,
        [Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable,
    },
});

await app.RunAsync();

namespace NatMap.Iptables.IntegrationTests.Infrastructure;

/// <summary>
/// One Docker Engine per iptables backend, shared by the tests of a class: starting dockerd and importing the image
/// costs seconds, so each backend pays it once. <see cref="PrepareAsync"/> gives each test a clean engine (no
/// containers, none of the library's rules, dockerd running), so the tests stay independent. Disposal stops every
/// engine and fails when a dockerd, containerd or shim process or a mount is left behind.
/// </summary>
public sealed class DockerEngineFixture : IAsyncDisposable
{
    private readonly Dictionary<string, DockerEngine> _engines = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>The engine of <paramref name="backend"/>, running, with no containers and none of the library's rules.</summary>
    internal async Task<DockerEngine> PrepareAsync(string backend)
    {
        await _gate.WaitAsync(TestContext.Current.CancellationToken);
        try
        {
            if (!_engines.TryGetValue(backend, out var engine))
            {
                engine = await DockerEngine.CreateAsync(backend);
                _engines[backend] = engine;
            }
            else if (!engine.Running)
            {
                // A test that failed while dockerd was stopped.
                await engine.StopAsync();
                await engine.StartAsync();
            }

            await engine.RemoveContainersAsync();
            await engine.Manager().FlushAllAsync(TestContext.Current.CancellationToken);
            foreach (var subnet in new[] { DockerEngine.Subnet4, DockerEngine.Subnet6 })
            {
                // A route to the containers that a direct-routing test added and did not get to delete.
                _ = await engine.RunAsync(engine.Ext, "ip", "route", "del", subnet);
            }

            return engine;
        }
        finally
        {
            _ = _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        var leftovers = new List<string>();
        foreach (var engine in _engines.Values)
        {
            await engine.DisposeAsync();
            var processes = engine.Processes();
            if (processes.Count > 0)
            {
                leftovers.Add($"{engine.Backend}: processes {string.Join(", ", processes)} still run");
            }

            if (engine.Mounts() is { Count: > 0 } mounts)
            {
                leftovers.Add($"{engine.Backend}: still mounted {string.Join(", ", mounts)}");
            }
        }

        _engines.Clear();
        _gate.Dispose();
        if (leftovers.Count > 0)
        {
            throw new InvalidOperationException("The Docker engines left something behind: " + string.Join("; ", leftovers));
        }
    }
}

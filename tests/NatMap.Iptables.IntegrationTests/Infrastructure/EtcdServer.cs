using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using dotnet_etcd;

namespace NatMap.Iptables.IntegrationTests.Infrastructure;

/// <summary>
/// A real single-member etcd (Debian's etcd-server) on loopback, on free ports, with its own data directory. It can be
/// stopped and started again on the same ports and data; disposal kills it and deletes the directory.
/// </summary>
internal sealed class EtcdServer : IAsyncDisposable
{
    private static readonly TimeSpan StartBound = TimeSpan.FromSeconds(30);
    private readonly int _clientPort = FreePort();
    private readonly int _peerPort = FreePort();
    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("natmap-etcd-").FullName;
    private Process? _process;

    private EtcdServer()
    {
    }

    public Uri Endpoint => new($"http://127.0.0.1:{_clientPort}");

    public static async Task<EtcdServer> StartAsync()
    {
        Kernel.RequireRoot();
        if (!OnPath("etcd"))
        {
            Kernel.CannotRun("etcd is not installed: apt-get install etcd-server (.ci/run installs it)");
        }

        var server = new EtcdServer();
        try
        {
            await server.StartAgainAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync(); // the caller never gets it: kill etcd and delete its data here
            throw;
        }
    }

    /// <summary>Starts etcd on the same ports and data, and waits until it answers.</summary>
    public async Task StartAgainAsync()
    {
        // etcd rejects a URL with a path, even "/", so not Endpoint.ToString().
        var peer = $"http://127.0.0.1:{_peerPort}";
        var client = $"http://127.0.0.1:{_clientPort}";
        var info = new ProcessStartInfo("etcd")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            ArgumentList =
            {
                "--name", "natmap-test", "--data-dir", _dataDirectory,
                "--listen-client-urls", client, "--advertise-client-urls", client,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", $"natmap-test={peer}", "--logger", "zap", "--log-level", "error",
            },
        };
        _process = Process.Start(info) ?? throw new InvalidOperationException("could not start etcd");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var started = Stopwatch.StartNew();
        using var etcd = Client();
        while (true)
        {
            try
            {
                _ = await etcd.GetAsync("/natmap/ping", deadline: DateTime.UtcNow.AddSeconds(2), cancellationToken: TestContext.Current.CancellationToken);
                return;
            }
            catch (Grpc.Core.RpcException) when (started.Elapsed < StartBound && !_process.HasExited)
            {
                await Task.Delay(100, TestContext.Current.CancellationToken);
            }
        }
    }

    /// <summary>Kills etcd (as a crash or a lost host would) and waits for it to exit.</summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(10));
        }

        _process?.Dispose();
        _process = null;
    }

    public async Task PutAsync(string key, string value)
    {
        using var client = Client();
        _ = await client.PutAsync(key, value, deadline: DateTime.UtcNow.AddSeconds(5), cancellationToken: TestContext.Current.CancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        Directory.Delete(_dataDirectory, recursive: true);
    }

    private EtcdClient Client() => new(Endpoint.ToString(), configureChannelOptions: static o => o.Credentials = Grpc.Core.ChannelCredentials.Insecure);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").Split(':').Any(d => File.Exists(Path.Combine(d, tool)));
}

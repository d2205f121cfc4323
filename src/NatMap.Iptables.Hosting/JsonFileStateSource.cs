using Microsoft.Extensions.Primitives;
using NatMap.Iptables.Hosting.Internal;

namespace NatMap.Iptables.Hosting;

/// <summary>
/// The desired state from a JSON file in the format of <see cref="NatMapStateJson"/>, watched for changes (writes,
/// replacement by rename as editors and configuration tools do it, deletion).
/// </summary>
/// <remarks>
/// <para>A missing or unreadable file makes the source unreachable, and a half-written one is rejected: either way the
/// last good state stays applied until the file is whole again. Write the file elsewhere and rename it into place to
/// avoid the half-written case altogether.</para>
/// <para>The file's directory must exist; the file itself may appear later.</para>
/// </remarks>
public sealed class JsonFileStateSource : INatMapStateSource, IDisposable
{
    private readonly ChangeSignal _signal = new();
    private readonly FileSystemWatcher _watcher;

    /// <summary>Initializes a new instance and starts watching the file.</summary>
    /// <param name="path">The file; a relative path is taken from the current directory.</param>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty, names a directory, or its directory does not exist.</exception>
    public JsonFileStateSource(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Path = System.IO.Path.GetFullPath(path);
        var directory = System.IO.Path.GetDirectoryName(Path);
        var name = System.IO.Path.GetFileName(Path);
        if (string.IsNullOrEmpty(name) || Directory.Exists(Path))
        {
            throw new ArgumentException($"The state file '{path}' must name a file, not a directory.", nameof(path));
        }

        if (directory is null || !Directory.Exists(directory))
        {
            throw new ArgumentException($"The directory of the state file '{path}' does not exist; it must, to be watched.", nameof(path));
        }

        _watcher = new FileSystemWatcher(directory, name)
        {
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
        };
        _watcher.Changed += (_, _) => _signal.Fire();
        _watcher.Created += (_, _) => _signal.Fire();
        _watcher.Deleted += (_, _) => _signal.Fire();
        _watcher.Renamed += (_, _) => _signal.Fire();
        _watcher.Error += (_, _) => _signal.Fire(); // events were lost: read again
        _watcher.EnableRaisingEvents = true;
    }

    /// <summary>Gets the full path of the file.</summary>
    public string Path { get; }

    /// <inheritdoc/>
    public string Description => $"file {Path}";

    /// <inheritdoc/>
    public async ValueTask<NatMapState> ReadAsync(CancellationToken cancellationToken)
    {
        var json = await File.ReadAllTextAsync(Path, cancellationToken).ConfigureAwait(false);
        return StateFormat.Parse(json);
    }

    /// <inheritdoc/>
    public IChangeToken GetReloadToken() => _signal.Token;

    /// <summary>Stops watching the file.</summary>
    public void Dispose() => _watcher.Dispose();
}

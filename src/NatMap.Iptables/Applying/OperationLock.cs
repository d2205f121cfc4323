namespace NatMap.Iptables.Internal;

/// <summary>
/// A lock file that serializes the library's mutating operations on one network namespace across processes: each
/// operation reads the tables and then writes its changes, and two processes interleaving those steps would both see
/// a rule missing and both add it. The lock is an <c>flock</c> on <c>DIRECTORY/net-INODE.lock</c> (.NET opens a file with
/// <see cref="FileShare.None"/> under an exclusive <c>flock</c> on Linux), so the kernel releases it when the process
/// dies, crash or kill included: a stale lock file holds nothing.
/// </summary>
internal static class OperationLock
{
    /// <summary>The lock directory of the local host.</summary>
    public const string DefaultDirectory = "/run/natmap";

    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(5);

    private static readonly FileStreamOptions Options = OperatingSystem.IsWindows()
        ? new() { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None, BufferSize = 0 }
        : new() { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None, BufferSize = 0, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite };

    /// <summary>Where iproute2 keeps its named namespaces (its <c>NETNS_RUN_DIR</c>).</summary>
    public const string NamespaceDirectory = "/var/run/netns";

    /// <summary>The network namespace of the calling process.</summary>
    public const string OwnNamespace = "/proc/self/ns/net";

    /// <summary>
    /// The lock file of a namespace, named after the namespace itself rather than a name for it:
    /// <c>net-INODE.lock</c>, where INODE is the namespace's inode number. A manager given
    /// <see cref="NatMapOptions.NetworkNamespace"/> <c>lab1</c> and a process that <c>ip netns exec lab1</c> started with
    /// no namespace option run their commands in one namespace, and so take one lock. The inode of a named namespace
    /// comes from <c>/proc/self/fdinfo</c> (Linux 5.14 and later); where that is missing, or the namespace cannot be
    /// opened, the file is <c>netns-NAME.lock</c> (a name longer than 200 characters replaced by its SHA-256).
    /// </summary>
    public static string PathFor(string directory, string? networkNamespace) =>
        System.IO.Path.Combine(directory, $"{(InodeOf(networkNamespace) is { } inode ? $"net-{inode}" : NameKey(networkNamespace))}.lock");

    /// <summary>The inode number of a namespace, or <see langword="null"/> when it cannot be read.</summary>
    private static string? InodeOf(string? networkNamespace)
    {
        try
        {
            if (networkNamespace is null)
            {
                // The link reads "net:[INODE]" on every kernel.
                var target = new FileInfo(OwnNamespace).LinkTarget;
                return target is ['n', 'e', 't', ':', '[', .. var inode, ']'] && inode.All(char.IsAsciiDigit) ? inode : null;
            }

            using var handle = File.OpenHandle(System.IO.Path.Combine(NamespaceDirectory, networkNamespace), FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            foreach (var line in File.ReadLines($"/proc/self/fdinfo/{handle.DangerousGetHandle()}"))
            {
                if (line.StartsWith("ino:", StringComparison.Ordinal) && line[4..].Trim() is { Length: > 0 } inode && inode.All(char.IsAsciiDigit))
                {
                    return inode;
                }
            }
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or ArgumentException)
        {
        }

        return null;
    }

    private static string NameKey(string? networkNamespace) => networkNamespace switch
    {
        null => "init",
        { Length: <= 200 } => $"netns-{networkNamespace}",
        _ => $"netns-{Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(networkNamespace)))}",
    };

    /// <summary>
    /// Takes the lock, waiting while another process (or another manager of this one) holds it. Returns
    /// <see langword="null"/> when the file cannot be made at all (no write access to the directory): the operation
    /// then runs unlocked, as it did before the lock existed, and the caller logs it.
    /// </summary>
    /// <exception cref="TimeoutException">The lock was held by someone else for longer than <paramref name="wait"/>.</exception>
    /// <exception cref="OperationCanceledException">Cancelled while waiting.</exception>
    public static async Task<FileStream?> AcquireAsync(string path, TimeSpan wait, CancellationToken cancellationToken)
    {
        try
        {
            // Owner-only, directory and file: flock needs no write access, so a lock file others could open would let
            // any local user hold every operation up.
            var directory = System.IO.Path.GetDirectoryName(path)!;
            _ = OperatingSystem.IsWindows()
                ? Directory.CreateDirectory(directory)
                : Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        catch (Exception exception) when (exception is UnauthorizedAccessException or IOException)
        {
            return null;
        }

        var deadline = DateTime.UtcNow + wait;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                return new FileStream(path, Options);
            }
            catch (UnauthorizedAccessException)
            {
                return null;
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                // Held: EWOULDBLOCK from flock(LOCK_EX | LOCK_NB). Poll; operations take milliseconds.
            }
            catch (IOException exception)
            {
                throw new TimeoutException($"Another process held the lock file {path} for longer than {wait}; it runs a NatMap operation on the same network namespace.", exception);
            }

            await Task.Delay(Poll, cancellationToken).ConfigureAwait(false);
        }
    }
}

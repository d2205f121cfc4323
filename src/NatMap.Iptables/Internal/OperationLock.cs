namespace NatMap.Iptables.Internal;

/// <summary>
/// A lock file that serializes the library's mutating operations on one network namespace across processes: each
/// operation reads the tables and then writes its changes, and two processes interleaving those steps would both see
/// a rule missing and both add it. The lock is an <c>flock</c> on <c>DIRECTORY/NAME.lock</c> (.NET opens a file with
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

    /// <summary>
    /// The lock file of a namespace: <c>netns-NAME.lock</c>, or <c>init.lock</c> for the process's own. A name too long
    /// for a file name with the prefix and suffix (iproute2 allows 255 characters) is replaced by its SHA-256.
    /// </summary>
    public static string PathFor(string directory, string? networkNamespace)
    {
        if (networkNamespace is null)
        {
            return System.IO.Path.Combine(directory, "init.lock");
        }

        var name = networkNamespace.Length <= 200
            ? networkNamespace
            : Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(networkNamespace)));
        return System.IO.Path.Combine(directory, $"netns-{name}.lock");
    }

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

namespace NatMap.Iptables.Internal;

/// <summary>
/// Lets one mutating operation run at a time: per manager (a semaphore) and, when a lock directory is given, per network
/// namespace across processes (<see cref="OperationLock"/>). Each operation gets an <see cref="Operation"/> that is
/// done when its body returns and rolled back when it throws.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The SemaphoreSlim never creates a wait handle, so it holds nothing to dispose.")]
internal sealed class OperationGate(CommandExecutor executor, string? lockDirectory, string? networkNamespace)
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>Runs <paramref name="body"/> as the operation <paramref name="name"/>, undoing what it applied if it throws.</summary>
    public async Task RunAsync(string name, Func<Operation, Task> body, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        FileStream? crossProcessLock = null;
        var operation = new Operation(name, executor);
        try
        {
            crossProcessLock = await AcquireLockAsync(cancellationToken).ConfigureAwait(false);
            await body(operation).ConfigureAwait(false);
            operation.Done();
        }
        catch (Exception exception)
        {
            await operation.RollBackAsync(exception).ConfigureAwait(false);
            throw;
        }
        finally
        {
            if (crossProcessLock is not null)
            {
                await crossProcessLock.DisposeAsync().ConfigureAwait(false);
            }

            _ = _gate.Release();
        }
    }

    /// <summary>Takes the cross-process operation lock, if this gate uses one (see <see cref="OperationLock"/>).</summary>
    private async Task<FileStream?> AcquireLockAsync(CancellationToken cancellationToken)
    {
        if (lockDirectory is null)
        {
            return null;
        }

        // Resolved at each operation: a namespace deleted and made again under its name is another namespace.
        var lockFile = OperationLock.PathFor(lockDirectory, networkNamespace);
        var taken = await OperationLock.AcquireAsync(lockFile, executor.CommandTimeout, cancellationToken).ConfigureAwait(false);
        if (taken is null)
        {
            Log.LockUnavailable(executor.Logger, lockFile);
        }

        return taken;
    }
}

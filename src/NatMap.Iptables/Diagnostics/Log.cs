using Microsoft.Extensions.Logging;

namespace NatMap.Iptables.Internal;

/// <summary>The manager's log messages.</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Debug, "Running {Command}")]
    public static partial void Running(ILogger logger, CommandSpec command);

    [LoggerMessage(7, LogLevel.Trace, "Standard input of {Command}:\n{StandardInput}")]
    public static partial void Input(ILogger logger, CommandSpec command, string standardInput);

    [LoggerMessage(2, LogLevel.Debug, "{Command} exited with code {ExitCode}")]
    public static partial void Exited(ILogger logger, CommandSpec command, int exitCode);

    [LoggerMessage(3, LogLevel.Information, "{Operation} done: {Commands} commands")]
    public static partial void OperationDone(ILogger logger, string operation, int commands);

    [LoggerMessage(4, LogLevel.Warning, "{Operation} stopped ({Cause}); rolling back {Count} applied changes")]
    public static partial void RollingBack(ILogger logger, string operation, string cause, int count);

    [LoggerMessage(6, LogLevel.Warning, "{Command} failed ({Reason}); a mapping's hairpin rule keeps the network it was installed with, else covers the container itself only")]
    public static partial void RouteLookupFailed(ILogger logger, CommandSpec command, string reason);

    [LoggerMessage(5, LogLevel.Error, "Rollback of {Operation} could not undo {Command}: exit code {ExitCode}, {StandardError}")]
    public static partial void RollbackFailed(ILogger logger, string operation, CommandSpec command, int exitCode, string standardError);

    [LoggerMessage(10, LogLevel.Error, "Rollback of {Operation} stopped: {Count} steps stay applied, the host is as that many steps of the operation left it; run the operation again or SyncAsync")]
    public static partial void RollbackStopped(ILogger logger, string operation, int count);

    [LoggerMessage(8, LogLevel.Warning, "{Missing} of Setup's chains and jumps are gone (another tool flushed the tables?); putting the desired state back")]
    public static partial void Repairing(ILogger logger, int missing);

    [LoggerMessage(10, LogLevel.Warning, "The lock file {Path} cannot be made (no write access?); operations of other processes may interleave with this one's")]
    public static partial void LockUnavailable(ILogger logger, string path);

    [LoggerMessage(9, LogLevel.Error, "The monitor's check failed; it retries at the next interval")]
    public static partial void CheckFailed(ILogger logger, Exception exception);

    [LoggerMessage(10, LogLevel.Warning, "{Command} could not run ({Reason}); flows the kernel already tracks keep their old path until they time out. Install conntrack-tools, or set NatMapOptions.ConntrackReset to None")]
    public static partial void ConntrackUnavailable(ILogger logger, CommandSpec command, string reason);
}

using Microsoft.Extensions.Logging;

namespace NatMap.Iptables.Hosting.Internal;

/// <summary>The hosted sync's and the sources' log messages.</summary>
internal static partial class HostingLog
{
    [LoggerMessage(101, LogLevel.Information, "Synced to the desired state from {Source} ({Trigger}): {DockerMaps} Docker mappings, {Dnats} DNATs, {Snats} SNATs, {Hairpins} hairpins")]
    public static partial void Synced(ILogger logger, string source, SyncTrigger trigger, int dockerMaps, int dnats, int snats, int hairpins);

    [LoggerMessage(102, LogLevel.Error, "The desired state from {Source} was rejected; the last good state stays applied.\n{Reason}")]
    public static partial void Rejected(ILogger logger, string source, string reason);

    [LoggerMessage(103, LogLevel.Warning, "{Source} could not be read; the last good state stays applied, and the read is retried")]
    public static partial void Unreachable(ILogger logger, string source, Exception exception);

    [LoggerMessage(104, LogLevel.Error, "Syncing to the desired state from {Source} failed ({Trigger}); what it applied was undone, and it is retried")]
    public static partial void SyncFailed(ILogger logger, string source, SyncTrigger trigger, Exception exception);

    [LoggerMessage(105, LogLevel.Warning, "Another tool had removed the library's chains or jumps; the last good state is back")]
    public static partial void Repaired(ILogger logger);

    [LoggerMessage(106, LogLevel.Error, "The check of the library's chains and jumps failed; it is retried at the next interval")]
    public static partial void CheckFailed(ILogger logger, Exception exception);

    [LoggerMessage(107, LogLevel.Information, "Stopping: the rules stay in place (NatMapHostedSyncOptions.FlushOnStop is off)")]
    public static partial void LeavingRules(ILogger logger);

    [LoggerMessage(108, LogLevel.Information, "Stopping: removed every rule the library owns (NatMapHostedSyncOptions.FlushOnStop)")]
    public static partial void Flushed(ILogger logger);

    [LoggerMessage(110, LogLevel.Warning, "etcd at {Endpoint} is unreachable; reconnecting in {Delay}")]
    public static partial void EtcdUnreachable(ILogger logger, string endpoint, TimeSpan delay, Exception exception);

    [LoggerMessage(111, LogLevel.Information, "Watching etcd key {Key} at {Endpoint} from revision {Revision}")]
    public static partial void EtcdWatching(ILogger logger, string key, string endpoint, long revision);
}

using NatMap.Iptables;

namespace NatMap.Cli;

/// <summary>What a command runs against: the two writers, the host's runner, and whether progress may be drawn.</summary>
internal sealed record CliEnvironment(TextWriter Output, TextWriter Error, ICommandRunner? Runner, bool ShowProgress)
{
    /// <summary>The runner that reaches the host: the injected one, or the real one.</summary>
    public ICommandRunner HostRunner(NatMapOptions options) => Runner ?? new CliWrapCommandRunner(); // the manager applies options.CommandTimeout to every command
}

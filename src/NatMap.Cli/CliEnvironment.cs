using NatMap.Iptables;

namespace NatMap.Cli;

/// <summary>What a command runs against: the two writers, the host's runner, and whether progress may be drawn.</summary>
internal sealed record CliEnvironment(TextWriter Output, TextWriter Error, ICommandRunner? Runner, bool ShowProgress)
{
    /// <summary>The runner that reaches the host: the injected one, or the real one.</summary>
    /// <remarks>
    /// The manager bounds its own commands by <see cref="NatMapOptions.CommandTimeout"/>; the real runner is bounded
    /// by it too, because the audit and the Setup check read the host without a manager.
    /// </remarks>
    public ICommandRunner HostRunner(NatMapOptions options) => Runner ?? new CliWrapCommandRunner(options.CommandTimeout);
}

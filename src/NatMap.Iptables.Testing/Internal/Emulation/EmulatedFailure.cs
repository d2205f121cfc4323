namespace NatMap.Iptables.Testing.Internal.Emulation;

/// <summary>How iptables words a failure: the exit code, the reason, and which of its message shapes it uses.</summary>
internal enum FailureShape
{
    /// <summary><c>iptables: REASON</c>.</summary>
    Plain,

    /// <summary><c>iptables v1.8.9 (nf_tables): REASON</c>, without the usage hint.</summary>
    Versioned,

    /// <summary>A parameter problem (exit code 2): the versioned line, then the usage hint.</summary>
    Parameter,
}

/// <summary>A command the emulator refuses, with the exit code and reason iptables gives.</summary>
internal sealed class EmulatedFailure(int exitCode, string reason, FailureShape shape = FailureShape.Parameter) : Exception(reason)
{
    public int ExitCode { get; } = exitCode;

    public FailureShape Shape { get; } = shape;

    public static EmulatedFailure Plain(string reason) => new(1, reason, FailureShape.Plain);
}

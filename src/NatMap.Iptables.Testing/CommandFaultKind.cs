namespace NatMap.Iptables.Testing;

/// <summary>How a process struck by a <see cref="CommandFault"/> ends.</summary>
public enum CommandFaultKind
{
    /// <summary>It exits with the code and message iptables gives when a table cannot be committed.</summary>
    Fail,

    /// <summary>Its runner's timeout kills it: <see cref="TimeoutException"/>.</summary>
    TimeOut,

    /// <summary>It hangs until its token is cancelled: <see cref="OperationCanceledException"/>.</summary>
    Hang,

    /// <summary>The caller cancels the operation: <see cref="OperationCanceledException"/>.</summary>
    Cancel,
}

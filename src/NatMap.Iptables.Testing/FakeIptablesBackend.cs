namespace NatMap.Iptables.Testing;

/// <summary>Which iptables backend <see cref="FakeIptables"/> imitates where the two differ: error messages and exit codes, and whether reading a table creates it.</summary>
public enum FakeIptablesBackend
{
    /// <summary><c>iptables-nft</c> (the default on current distributions): reading a table does not create it.</summary>
    Nft = 0,

    /// <summary><c>iptables-legacy</c>: reading a table creates it, as the kernel loads the table's module.</summary>
    Legacy = 1,
}

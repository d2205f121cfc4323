namespace NatMap.Iptables.Testing.Internal.Emulation;

/// <summary>The reasons iptables 1.8.9 gives, worded per backend where the backends differ.</summary>
internal static class Messages
{
    public const string ChainExists = "Chain already exists.";
    public const string NoSuchChain = "No chain/target/match by that name.";
    public const string BadRule = "Bad rule (does a matching rule exist in that chain?).";
    public const string DeletionIndex = "Index of deletion too big.";
    public const string InsertionIndex = "Index of insertion too big.";

    public static EmulatedFailure MissingTarget(FakeIptablesBackend backend, string target) => backend == FakeIptablesBackend.Nft
        ? new(2, $"Chain '{target}' does not exist")
        : new(2, $"Couldn't load target `{target}':No such file or directory\n");

    public static EmulatedFailure ChainBusy(FakeIptablesBackend backend, string chain, bool referenced) => backend == FakeIptablesBackend.Nft
        ? new(4, $" CHAIN_DEL failed (Device or resource busy): chain {chain}", FailureShape.Versioned)
        : EmulatedFailure.Plain(referenced ? "Too many links." : "Directory not empty.");

    public static EmulatedFailure ListMissing(FakeIptablesBackend backend, string table, string chain) => backend == FakeIptablesBackend.Nft
        ? new(1, $"chain `{chain}' in table `{table}' is incompatible, use 'nft' tool.", FailureShape.Versioned)
        : EmulatedFailure.Plain(NoSuchChain);

    public static string Tag(FakeIptablesBackend backend) => backend == FakeIptablesBackend.Nft ? "nf_tables" : "legacy";

    /// <summary>The standard error of one <c>iptables</c> command that failed.</summary>
    public static string ForCommand(FakeIptablesBackend backend, string program, EmulatedFailure failure) => failure.Shape switch
    {
        FailureShape.Plain => $"{program}: {failure.Message}\n",
        FailureShape.Versioned => $"{program} v1.8.9 ({Tag(backend)}): {failure.Message}\n",
        _ => $"{program} v1.8.9 ({Tag(backend)}): {failure.Message}\nTry `{program} -h' or '{program} --help' for more information.\n",
    };

    /// <summary>The standard error of an <c>iptables-restore</c> whose line <paramref name="line"/> failed.</summary>
    public static string ForRestore(FakeIptablesBackend backend, string program, EmulatedFailure failure, int line) => failure.Shape switch
    {
        FailureShape.Parameter =>
            $"{program} v1.8.9 ({Tag(backend)}): {failure.Message}\n" +
            $"Error occurred at line: {line}\nTry `{program} -h' or '{program} --help' for more information.\n",
        // A change the kernel refused when the nft backend committed the block: the versioned line, then the line
        // that made the change with the kernel's reason ("line 4: CHAIN_DEL failed (Device or resource busy): chain A").
        FailureShape.Versioned when backend == FakeIptablesBackend.Nft => $"{program} v1.8.9 ({Tag(backend)}): \nline {line}:{failure.Message}\n",
        _ when backend == FakeIptablesBackend.Nft => $"{program}: line {line} failed: {failure.Message.Trim()}\n",
        _ => $"{program}: line {line} failed\n",
    };
}

using NatMap.Iptables.Internal;

namespace NatMap.Iptables.Tests.Applying;

/// <summary>Which tables of a failed restore committed, from the line iptables-restore names.</summary>
public sealed class RestoreFailureLineTests
{
    private const string Script = "*filter\n-N NATMAP-T3\n-A NATMAP -j NATMAP-T3\nCOMMIT\n*nat\n-N NATMAP-T3\nCOMMIT\n";

    public static TheoryData<string, string[]?> Cases => new()
    {
        // The nft restore's own failure, in the second block: the filter table committed.
        { "iptables-nft-restore: line 6 failed: Chain already exists.\n", ["filter"] },

        // The legacy restore's, in the first block: nothing committed.
        { "iptables-restore: line 2 failed\n", [] },

        // A parameter problem and a refused commit name their lines in other words.
        { "iptables-restore v1.8.9 (nf_tables): Bad argument\nError occurred at line: 3\n", [] },
        { "iptables-nft-restore v1.8.9 (nf_tables): \nline 7: CHAIN_ADD failed (File exists): chain NATMAP-T3\n", ["filter"] },

        // No line (the legacy lock timeout), or a line the script does not have: the caller reads the tables back.
        { "Another app is currently holding the xtables lock. Stopped waiting after 10s.\n", null },
        { "iptables-restore: line 99 failed\n", null },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void CommittedBefore_TheNamedLine_GivesTheTablesBeforeIts(string standardError, string[]? committed)
    {
        var tables = RestoreApplier.CommittedBefore(Script, standardError);

        if (committed is null)
        {
            tables.Should().BeNull();
        }
        else
        {
            tables.Should().BeEquivalentTo(committed);
        }
    }
}

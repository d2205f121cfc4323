using System.Net.Sockets;

namespace NatMap.Iptables.Internal;

/// <summary>
/// Reads the tables of one family as <see cref="TableListing"/>s. A table the kernel does not have reads as empty.
/// Chosen once per manager with its <see cref="IRuleApplier"/> (<see cref="NatMapOptions.ApplyMode"/>).
/// </summary>
internal interface ITableReader
{
    /// <summary>
    /// Reads <paramref name="tables"/>. With <paramref name="comment"/>, keeps only the rule lines that carry it (every
    /// chain is still listed, and every kept rule knows its position): an install among thousands of rules then
    /// tokenizes a handful of lines instead of every rule of every table (review item 5). With a comment, the lines that
    /// contain one of <paramref name="alsoKeeping"/> are kept too.
    /// </summary>
    Task<Dictionary<string, TableListing>> ReadAsync(AddressFamily family, IReadOnlyList<string> tables, string? comment, CancellationToken cancellationToken, IReadOnlyCollection<string>? alsoKeeping = null);
}

/// <summary>Reads all the tables of a family with one <c>iptables-save</c> (with <c>-t</c> when only one is wanted).</summary>
internal sealed class SaveReader(CommandExecutor executor, HostCommands commands) : ITableReader
{
    /// <inheritdoc/>
    /// <remarks>
    /// A save of one object's tables that printed no table at all (a fresh nft host creates a table only when it is
    /// first used) is followed by one <c>iptables-save -t TABLE</c>, which lists the built-in chains of a real host, so
    /// that the install planner can tell a host without the library's chain from a runner that runs nothing.
    /// </remarks>
    public async Task<Dictionary<string, TableListing>> ReadAsync(AddressFamily family, IReadOnlyList<string> tables, string? comment, CancellationToken cancellationToken, IReadOnlyCollection<string>? alsoKeeping = null)
    {
        var keep = TableListing.KeepingComment(comment, alsoKeeping);
        var result = await executor.RunCheckedAsync(commands.Save(family, tables.Count == 1 ? tables[0] : null), cancellationToken).ConfigureAwait(false);
        var saved = SaveListing.Parse(result.StandardOutput, keep);
        if (comment is not null && saved.Count == 0 && tables.Count > 1 && result.StandardOutput.Length == 0)
        {
            var one = await executor.RunCheckedAsync(commands.Save(family, tables[0]), cancellationToken).ConfigureAwait(false);
            saved = SaveListing.Parse(one.StandardOutput, keep);
        }

        var listings = new Dictionary<string, TableListing>(StringComparer.Ordinal);
        foreach (var table in tables)
        {
            listings[table] = saved.GetValueOrDefault(table) ?? TableListing.Empty;
        }

        return listings;
    }
}

/// <summary>Reads each table with its own <c>iptables -t TABLE -S</c>.</summary>
internal sealed class ListReader(CommandExecutor executor, HostCommands commands) : ITableReader
{
    /// <inheritdoc/>
    public async Task<Dictionary<string, TableListing>> ReadAsync(AddressFamily family, IReadOnlyList<string> tables, string? comment, CancellationToken cancellationToken, IReadOnlyCollection<string>? alsoKeeping = null)
    {
        var keep = TableListing.KeepingComment(comment, alsoKeeping);
        var listings = new Dictionary<string, TableListing>(StringComparer.Ordinal);
        foreach (var table in tables)
        {
            var result = await executor.RunCheckedAsync(commands.Create(family, ["-t", table, "-S"]), cancellationToken).ConfigureAwait(false);
            listings[table] = TableListing.Parse(result.StandardOutput, keep);
        }

        return listings;
    }
}

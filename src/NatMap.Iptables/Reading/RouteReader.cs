using System.Net;
using System.Net.Sockets;

namespace NatMap.Iptables.Internal;

/// <summary>
/// Reads the routing table for the hairpin rules of Docker mappings. A failed lookup is logged and told apart from "no
/// route" (review item 7): without the routes, a hairpin rule already installed for the container's whole network stays
/// as it is, instead of being narrowed to the container for a lookup's hiccup.
/// </summary>
internal sealed class RouteReader(CommandExecutor executor, HostCommands commands)
{
    /// <summary>
    /// The container's on-link network (<c>ip route show match</c>): the longest route that contains the address and
    /// has no gateway. <see langword="null"/> when there is none, or the lookup fails, which <c>Failed</c> tells apart.
    /// </summary>
    public async Task<(IPNetwork? Network, bool Failed)> ContainerNetworkAsync(IPAddress container, CancellationToken cancellationToken) =>
        await ReadAsync(commands.RoutesMatching(container), cancellationToken).ConfigureAwait(false) is { } output
            ? (RouteListing.OnLinkNetwork(output, container), false)
            : (null, true);

    /// <summary>The family's on-link networks, read once for all the mappings of a sync; <see langword="null"/> when the lookup fails.</summary>
    public async Task<IReadOnlyList<IPNetwork>?> OnLinkNetworksAsync(AddressFamily family, CancellationToken cancellationToken) =>
        await ReadAsync(commands.Routes(family), cancellationToken).ConfigureAwait(false) is { } output
            ? RouteListing.OnLinkNetworks(output, family)
            : null;

    /// <summary>The lookup's output, or <see langword="null"/> when it failed (logged).</summary>
    private async Task<string?> ReadAsync(CommandSpec command, CancellationToken cancellationToken)
    {
        try
        {
            var result = await executor.RunAsync(command, cancellationToken).ConfigureAwait(false);
            if (result.IsSuccess)
            {
                return result.StandardOutput;
            }

            Log.RouteLookupFailed(executor.Logger, command, $"exit code {result.ExitCode}");
            return null;
        }
#pragma warning disable CA1031 // The lookup only widens the hairpin rule; without it (no iproute2) the mapping still works.
        catch (Exception exception) when (exception is not OperationCanceledException)
#pragma warning restore CA1031
        {
            Log.RouteLookupFailed(executor.Logger, command, exception.Message);
            return null;
        }
    }
}

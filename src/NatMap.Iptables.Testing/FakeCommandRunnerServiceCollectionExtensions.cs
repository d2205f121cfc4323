using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace NatMap.Iptables.Testing;

/// <summary>Swaps <see cref="FakeCommandRunner"/> into a service collection.</summary>
public static class FakeCommandRunnerServiceCollectionExtensions
{
    /// <summary>
    /// Replaces every registered <see cref="ICommandRunner"/> with <paramref name="runner"/> (or a new
    /// <see cref="FakeCommandRunner"/>), and registers that instance as <see cref="FakeCommandRunner"/> too. Call it
    /// before or after <c>AddNatMap()</c>.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="runner">The fake to use; <see langword="null"/> for a new one.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is <see langword="null"/>.</exception>
    public static IServiceCollection AddFakeCommandRunner(this IServiceCollection services, FakeCommandRunner? runner = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        runner ??= new FakeCommandRunner();
        _ = services.RemoveAll<ICommandRunner>().RemoveAll<FakeCommandRunner>().RemoveAll<FakeIptables>();
        services.AddSingleton(runner);
        services.AddSingleton<ICommandRunner>(runner);
        return services;
    }

    /// <summary>Gets the <see cref="FakeCommandRunner"/> registered by <see cref="AddFakeCommandRunner"/>.</summary>
    /// <param name="services">The service provider.</param>
    /// <returns>The fake.</returns>
    /// <exception cref="InvalidOperationException">No fake is registered.</exception>
    public static FakeCommandRunner GetFakeCommandRunner(this IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        return services.GetService(typeof(FakeCommandRunner)) as FakeCommandRunner
            ?? throw new InvalidOperationException("No FakeCommandRunner is registered; call services.AddFakeCommandRunner() first.");
    }
}

using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace NatMap.Iptables.Testing;

/// <summary>Registers a <see cref="FakeIptables"/> as the <see cref="ICommandRunner"/>, in place of the real one.</summary>
public static class FakeIptablesServiceCollectionExtensions
{
    /// <summary>
    /// Replaces any <see cref="ICommandRunner"/> with <paramref name="emulator"/> (a new <see cref="FakeIptables"/>
    /// when <see langword="null"/>), registered as a singleton both as itself and as the runner. Call it after
    /// <c>AddNatMap()</c> or before: the manager resolves the runner when it is built.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="emulator">The emulator to use, for example one with a legacy backend or prepared addresses.</param>
    /// <returns>The service collection, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is <see langword="null"/>.</exception>
    public static IServiceCollection AddFakeIptables(this IServiceCollection services, FakeIptables? emulator = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        emulator ??= new FakeIptables();
        _ = services.RemoveAll<ICommandRunner>().RemoveAll<FakeIptables>().RemoveAll<FakeCommandRunner>();
        services.AddSingleton(emulator);
        services.AddSingleton<ICommandRunner>(emulator);
        return services;
    }

    /// <summary>Returns the <see cref="FakeIptables"/> registered with <see cref="AddFakeIptables"/>.</summary>
    /// <param name="services">The service provider.</param>
    /// <returns>The emulator.</returns>
    /// <exception cref="InvalidOperationException">No emulator is registered.</exception>
    public static FakeIptables GetFakeIptables(this IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        return services.GetService(typeof(FakeIptables)) as FakeIptables
            ?? throw new InvalidOperationException("No FakeIptables is registered; call services.AddFakeIptables() first.");
    }
}

using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace NatMap.Iptables.Testing;

/// <summary>Swaps a fake <see cref="ICommandRunner"/> (<see cref="FakeCommandRunner"/> or <see cref="FakeIptables"/>) into a service collection.</summary>
public static class FakeCommandRunnerServiceCollectionExtensions
{
    /// <summary>
    /// Replaces every registered <see cref="ICommandRunner"/> (and any fake registered before) with
    /// <paramref name="runner"/>, or a new <see cref="FakeCommandRunner"/>, registered as a singleton both as
    /// <see cref="FakeCommandRunner"/> and as the runner. Call it before or after <c>AddNatMap()</c>: the manager
    /// resolves the runner when it is built.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="runner">The fake to use; <see langword="null"/> for a new one.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is <see langword="null"/>.</exception>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("ApiDesign", "RS0027", Justification = "Kept exactly as 0.1 shipped it (consumers compile against it); the FakeIptables overload takes another type, so no call is ambiguous.")]
    public static IServiceCollection AddFakeCommandRunner(this IServiceCollection services, FakeCommandRunner? runner = null) =>
        Replace(services, runner ?? new FakeCommandRunner());

    /// <summary>
    /// Replaces every registered <see cref="ICommandRunner"/> (and any fake registered before) with
    /// <paramref name="emulator"/>, registered as a singleton both as <see cref="FakeIptables"/> and as the runner, so
    /// the library's operations run against its in-memory tables.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="emulator">The emulator, for example <c>new FakeIptables()</c> or one with a legacy backend or prepared addresses.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    public static IServiceCollection AddFakeCommandRunner(this IServiceCollection services, FakeIptables emulator)
    {
        ArgumentNullException.ThrowIfNull(emulator);
        return Replace(services, emulator);
    }

    /// <summary>Gets the <see cref="FakeCommandRunner"/> registered by <see cref="AddFakeCommandRunner(IServiceCollection, FakeCommandRunner?)"/>.</summary>
    /// <param name="services">The service provider.</param>
    /// <returns>The fake.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">No <see cref="FakeCommandRunner"/> is registered.</exception>
    public static FakeCommandRunner GetFakeCommandRunner(this IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        return services.GetService(typeof(FakeCommandRunner)) as FakeCommandRunner
            ?? throw new InvalidOperationException("No FakeCommandRunner is registered; call services.AddFakeCommandRunner() first.");
    }

    private static IServiceCollection Replace<TFake>(IServiceCollection services, TFake fake)
        where TFake : class, ICommandRunner
    {
        ArgumentNullException.ThrowIfNull(services);
        _ = services.RemoveAll<ICommandRunner>().RemoveAll<FakeCommandRunner>().RemoveAll<FakeIptables>();
        services.AddSingleton(fake);
        services.AddSingleton<ICommandRunner>(fake);
        return services;
    }
}

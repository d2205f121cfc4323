using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NatMap.Iptables.Internal;

namespace NatMap.Iptables;

/// <summary>Registers NatMap.Iptables with a service collection.</summary>
public static class NatMapServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="IIptablesManager"/> (a singleton <see cref="IptablesManager"/>), the default
    /// <see cref="ICommandRunner"/> (<see cref="CliWrapCommandRunner"/>) and validated <see cref="NatMapOptions"/>.
    /// </summary>
    /// <param name="services">The service collection. Nothing needs to be registered first: logging is used when present.</param>
    /// <param name="configure">Sets the options; <see langword="null"/> keeps the defaults.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is <see langword="null"/>.</exception>
    /// <remarks>
    /// <para>The runner is added with TryAdd semantics and resolved when the manager is created, so an
    /// <see cref="ICommandRunner"/> registered before or after this call (for example <c>FakeCommandRunner</c>) is the
    /// one used.</para>
    /// <para>The options are validated when the manager is first resolved and, in a host, at start-up
    /// (<c>ValidateOnStart</c>); an invalid option raises an <see cref="OptionsValidationException"/> naming it.</para>
    /// </remarks>
    public static IServiceCollection AddNatMap(this IServiceCollection services, Action<NatMapOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<NatMapOptions>();
        if (configure is not null)
        {
            _ = options.Configure(configure);
        }

        _ = options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<NatMapOptions>, NatMapOptionsValidator>());
        // The manager enforces NatMapOptions.CommandTimeout for any runner, so the runner needs no timeout of its own.
        services.TryAddSingleton<ICommandRunner>(static _ => new CliWrapCommandRunner());
        services.TryAddSingleton<IIptablesManager>(static sp => new IptablesManager(
            sp.GetRequiredService<ICommandRunner>(),
            sp.GetRequiredService<IOptions<NatMapOptions>>().Value,
            sp.GetService<ILoggerFactory>()?.CreateLogger<IptablesManager>(),
            sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        return services;
    }
}

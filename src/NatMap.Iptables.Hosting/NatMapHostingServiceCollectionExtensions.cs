using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NatMap.Iptables.Hosting.Internal;

namespace NatMap.Iptables.Hosting;

/// <summary>Registers NatMap.Iptables as a hosted service that keeps the host at a desired state.</summary>
public static class NatMapHostingServiceCollectionExtensions
{
    /// <summary>
    /// Registers NatMap.Iptables (as <see cref="NatMapServiceCollectionExtensions.AddNatMap"/> does) with
    /// <see cref="NatMapOptions"/> bound from <paramref name="configuration"/>, such as
    /// <c>builder.Configuration.GetSection("NatMap:Options")</c>, and validated at host start-up.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">The section whose keys are <see cref="NatMapOptions"/>' property names (<c>EnableIpv6</c>, <c>XtablesLockWait</c> as <c>00:00:05</c>, <c>ApplyMode</c> as <c>Batch</c>, ...).</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="configuration"/> is <see langword="null"/>.</exception>
    /// <remarks>An invalid value stops the host from starting with an <see cref="OptionsValidationException"/> naming it. The manager reads the options once, when it is created.</remarks>
    public static IServiceCollection AddNatMap(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        _ = services.AddNatMap();
        _ = services.AddOptions<NatMapOptions>().Bind(configuration);
        return services;
    }

    /// <summary>
    /// Registers a hosted service that keeps the host at the desired state from a section of configuration (see
    /// <see cref="ConfigurationStateSource"/>), and the <see cref="NatMapHealthCheck"/>.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="stateSection">The section that holds the state, such as <c>builder.Configuration.GetSection("NatMap:State")</c>.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="stateSection"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">A hosted sync is already registered.</exception>
    /// <remarks>
    /// The hosted sync's options are the options pattern's: bind them with
    /// <c>services.Configure&lt;NatMapHostedSyncOptions&gt;(configuration.GetSection("NatMap:Sync"))</c>, or set them with
    /// the other overload. See <see cref="AddNatMapHostedSync(IServiceCollection, Func{IServiceProvider, INatMapStateSource}, Action{NatMapHostedSyncOptions}?)"/>
    /// for what the service does.
    /// </remarks>
    public static IServiceCollection AddNatMapHostedSync(this IServiceCollection services, IConfiguration stateSection)
    {
        ArgumentNullException.ThrowIfNull(stateSection);
        return services.AddNatMapHostedSync(_ => new ConfigurationStateSource(stateSection));
    }

    /// <summary>
    /// Registers a hosted service that keeps the host at the desired state from <paramref name="source"/>, and the
    /// <see cref="NatMapHealthCheck"/>. Registers NatMap.Iptables too, with the default options, unless
    /// <c>AddNatMap</c> was called.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="source">Creates the state source, once, for example <c>_ =&gt; new JsonFileStateSource("/etc/natmap/state.json")</c>; the container disposes it.</param>
    /// <param name="configure">Sets the hosted sync's options; <see langword="null"/> keeps the defaults.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="source"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">A hosted sync is already registered: a host has one desired state.</exception>
    /// <remarks>
    /// <para>At start, the service runs Setup and syncs to the state the source yields, before the host reports started.
    /// After each change the source signals, it waits for <see cref="NatMapHostedSyncOptions.Debounce"/> of quiet and
    /// syncs again; every <see cref="NatMapHostedSyncOptions.CheckInterval"/> it checks for rules other tools removed
    /// and puts the last good state back. These run one at a time, never concurrently.</para>
    /// <para>A state that is rejected (it fails validation) or cannot be read leaves the last good state applied,
    /// and the health check reports it. On stop the rules stay, unless <see cref="NatMapHostedSyncOptions.FlushOnStop"/>.</para>
    /// </remarks>
    public static IServiceCollection AddNatMapHostedSync(this IServiceCollection services, Func<IServiceProvider, INatMapStateSource> source, Action<NatMapHostedSyncOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(source);
        if (services.Any(static d => d.ServiceType == typeof(NatMapSyncService)))
        {
            throw new InvalidOperationException("AddNatMapHostedSync was already called: a host has one desired state, from one source.");
        }

        _ = services.AddNatMap();
        var options = services.AddOptions<NatMapHostedSyncOptions>();
        if (configure is not null)
        {
            _ = options.Configure(configure);
        }

        _ = options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<NatMapHostedSyncOptions>, NatMapHostedSyncOptionsValidator>());
        services.AddSingleton(source);
        services.TryAddSingleton<SyncStatus>();
        services.TryAddSingleton(static sp => new HostingTelemetry(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.AddSingleton(static sp => new NatMapSyncService(
            sp.GetRequiredService<IIptablesManager>(),
            sp.GetRequiredService<INatMapStateSource>(),
            sp.GetRequiredService<IOptions<NatMapHostedSyncOptions>>(),
            sp.GetRequiredService<SyncStatus>(),
            sp.GetRequiredService<HostingTelemetry>(),
            sp.GetRequiredService<IOptions<NatMapOptions>>().Value,
            sp.GetService<TimeProvider>(),
            sp.GetService<ILoggerFactory>()));
        services.AddSingleton<IHostedService>(static sp => sp.GetRequiredService<NatMapSyncService>());
        services.TryAddSingleton(static sp => new NatMapHealthCheck(sp.GetRequiredService<SyncStatus>(), sp.GetRequiredService<INatMapStateSource>()));
        return services;
    }
}

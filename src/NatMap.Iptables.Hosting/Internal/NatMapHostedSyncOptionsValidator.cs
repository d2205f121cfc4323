using Microsoft.Extensions.Options;

namespace NatMap.Iptables.Hosting.Internal;

/// <summary>Checks <see cref="NatMapHostedSyncOptions"/> at start-up, naming each bad value.</summary>
internal sealed class NatMapHostedSyncOptionsValidator : IValidateOptions<NatMapHostedSyncOptions>
{
    public static readonly TimeSpan MaxDebounce = TimeSpan.FromMinutes(1);

    public ValidateOptionsResult Validate(string? name, NatMapHostedSyncOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (options.Debounce < TimeSpan.Zero || options.Debounce > MaxDebounce)
        {
            failures.Add($"NatMapHostedSyncOptions.Debounce must be between 0 and {MaxDebounce}; it is {options.Debounce}.");
        }

        if (options.CheckInterval <= TimeSpan.Zero)
        {
            failures.Add($"NatMapHostedSyncOptions.CheckInterval must be greater than zero; it is {options.CheckInterval}.");
        }

        if (options.FullSyncEvery < 1)
        {
            failures.Add($"NatMapHostedSyncOptions.FullSyncEvery must be at least 1; it is {options.FullSyncEvery}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

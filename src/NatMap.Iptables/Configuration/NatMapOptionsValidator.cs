using Microsoft.Extensions.Options;

namespace NatMap.Iptables.Internal;

/// <summary>Validates <see cref="NatMapOptions"/>; each failure names the option.</summary>
internal sealed class NatMapOptionsValidator : IValidateOptions<NatMapOptions>
{
    /// <summary>
    /// How many times one command may wait for the xtables lock: the legacy <c>iptables-restore</c> takes it anew for
    /// each table it commits, and a restore of the library's holds at most three (raw, nat, filter).
    /// </summary>
    public const int LockWaitsPerCommand = 3;

    public ValidateOptionsResult Validate(string? name, NatMapOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = Errors(options).Select(static e => $"{e.Option}: {e.Message}").ToList();
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid option.</summary>
    public static void ThrowIfInvalid(NatMapOptions options)
    {
        foreach (var (option, message) in Errors(options))
        {
            throw new ArgumentException($"NatMapOptions.{option} is invalid: {message}", option);
        }
    }

    private static IEnumerable<(string Option, string Message)> Errors(NatMapOptions options)
    {
        if (Names.ChainNameError(options.ChainName) is { } chain)
        {
            yield return (nameof(options.ChainName), chain);
        }

        if (Names.CommentPrefixError(options.CommentPrefix) is { } prefix)
        {
            yield return (nameof(options.CommentPrefix), prefix);
        }

        foreach (var (option, value) in new[]
        {
            (nameof(options.IptablesPath), options.IptablesPath),
            (nameof(options.Ip6tablesPath), options.Ip6tablesPath),
            (nameof(options.IpPath), options.IpPath),
            (nameof(options.SysctlPath), options.SysctlPath),
            (nameof(options.ConntrackPath), options.ConntrackPath),
            (nameof(options.NftPath), options.NftPath),
        })
        {
            if (string.IsNullOrWhiteSpace(value) || value.StartsWith('-') || value.Any(char.IsControl))
            {
                yield return (option, $"'{Guard.Printable(value ?? string.Empty)}' is not a program name or path.");
            }
        }

        if (options.XtablesLockWait is { } wait && (wait < TimeSpan.FromSeconds(1) || wait > TimeSpan.FromHours(1)))
        {
            yield return (nameof(options.XtablesLockWait), $"{wait} is outside 1 second to 1 hour; use null to pass no -w.");
        }

        if (!Enum.IsDefined(options.ApplyMode))
        {
            yield return (nameof(options.ApplyMode), $"{options.ApplyMode} is not a {nameof(RuleApplyMode)} value.");
        }

        if (!Enum.IsDefined(options.Backend))
        {
            yield return (nameof(options.Backend), $"{options.Backend} is not a {nameof(NatMapBackend)} value.");
        }
        else if (options.Backend == NatMapBackend.Nftables && Names.CommentPrefixError(options.CommentPrefix) is null && Nftables.NftSchema.TableNameError(options.CommentPrefix) is { } table)
        {
            // With the nftables backend the prefix names the library's tables.
            yield return (nameof(options.CommentPrefix), $"With the nftables backend the prefix names the tables. {table}");
        }

        if (!Enum.IsDefined(options.ConntrackReset))
        {
            yield return (nameof(options.ConntrackReset), $"{options.ConntrackReset} is not a {nameof(Iptables.ConntrackReset)} value.");
        }

        if (options.CommandTimeout <= TimeSpan.Zero)
        {
            yield return (nameof(options.CommandTimeout), $"{options.CommandTimeout} must be greater than zero.");
        }
        else if (options.XtablesLockWait is { } lockWait && options.CommandTimeout <= LockWaitsPerCommand * lockWait)
        {
            yield return (nameof(options.CommandTimeout),
                $"{options.CommandTimeout} must be longer than {LockWaitsPerCommand} x XtablesLockWait ({LockWaitsPerCommand * lockWait}): the legacy iptables-restore " +
                $"waits for the xtables lock once per table, up to {LockWaitsPerCommand} tables (raw, nat, filter), and a command still waiting is killed before it can report.");
        }

        if (options.NetworkNamespace is { } ns && (!Guard.IsNameToken(ns) || ns is "." or ".."))
        {
            yield return (nameof(options.NetworkNamespace), $"'{Guard.Printable(ns)}' is not a namespace name (letters, digits, '_', '.', '-'; not '.' or '..').");
        }
        else if (options.NetworkNamespace is { Length: > NatMapLimits.MaxNetworkNamespaceLength } longName)
        {
            yield return (nameof(options.NetworkNamespace), $"'{Guard.Printable(longName)}' is {longName.Length} characters long; iproute2 allows at most {NatMapLimits.MaxNetworkNamespaceLength}.");
        }
    }
}

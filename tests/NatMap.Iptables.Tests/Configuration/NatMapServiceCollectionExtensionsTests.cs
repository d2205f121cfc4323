using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using NatMap.Iptables.Testing;
using static NatMap.Iptables.Tests.TestData;

namespace NatMap.Iptables.Tests.Configuration;

public sealed class NatMapServiceCollectionExtensionsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void AddNatMap_BareServiceCollection_ResolvesManagerWithCliWrapRunner()
    {
        using var provider = new ServiceCollection().AddNatMap().BuildServiceProvider();

        provider.GetRequiredService<IIptablesManager>().Should().BeOfType<IptablesManager>();
        provider.GetRequiredService<ICommandRunner>().Should().BeOfType<CliWrapCommandRunner>()
            .Which.Timeout.Should().BeNull("the manager enforces NatMapOptions.CommandTimeout itself, for any runner");
    }

    [Fact]
    public async Task AddNatMap_RunnerRegisteredAfterwards_IsTheOneUsed()
    {
        var fake = new FakeCommandRunner();
        using var provider = new ServiceCollection().AddNatMap().AddSingleton<ICommandRunner>(fake).BuildServiceProvider();

        await provider.GetRequiredService<IIptablesManager>().InstallSnatAsync(new SnatConfig(Ip("10.0.0.2"), Ip("203.0.113.5"), "eth0"), Ct);

        fake.Commands.Should().HaveCount(2);
    }

    [Fact]
    public async Task AddFakeCommandRunner_BeforeOrAfterAddNatMap_SwapsTheFakeIn()
    {
        foreach (var services in new[] { new ServiceCollection().AddNatMap().AddFakeCommandRunner(), new ServiceCollection().AddFakeCommandRunner().AddNatMap() })
        {
            using var provider = services.BuildServiceProvider();

            await provider.GetRequiredService<IIptablesManager>().InstallDockerMapAsync(Map(), Ct);

            provider.GetFakeCommandRunner().Commands.Should().Contain(c => c.Arguments.Contains("MASQUERADE"));
            provider.GetRequiredService<ICommandRunner>().Should().BeSameAs(provider.GetFakeCommandRunner());
        }
    }

    [Fact]
    public async Task AddNatMap_Configure_ReachesTheManager()
    {
        using var provider = new ServiceCollection()
            .AddNatMap(o => { o.ChainName = "EDGE"; o.EnableIpv6 = false; o.IptablesPath = "iptables-nft"; })
            .AddFakeCommandRunner()
            .BuildServiceProvider();

        await provider.GetRequiredService<IIptablesManager>().SetupAsync(Ct);

        provider.GetFakeCommandRunner().Commands.Where(c => c.FileName != "sysctl").Should().OnlyContain(c => c.FileName.StartsWith("iptables-nft", StringComparison.Ordinal))
            .And.Contain(c => c.Arguments.Contains("EDGE"));
    }

    [Fact]
    public void AddNatMap_InvalidOptions_FailsOnResolveNamingTheOption()
    {
        using var provider = new ServiceCollection().AddNatMap(o => o.ChainName = "BAD NAME").BuildServiceProvider();

        FluentActions.Invoking(() => provider.GetRequiredService<IIptablesManager>())
            .Should().Throw<OptionsValidationException>().WithMessage("*ChainName*");
    }

    [Fact]
    public void AddNatMap_RegistersStartupValidation()
    {
        var services = new ServiceCollection().AddNatMap(o => o.CommandTimeout = TimeSpan.Zero);
        using var provider = services.BuildServiceProvider();

        var validator = provider.GetRequiredService<IStartupValidator>();

        FluentActions.Invoking(validator.Validate).Should().Throw<OptionsValidationException>().WithMessage("*CommandTimeout*");
    }

    [Fact]
    public async Task AddNatMap_WithLogging_LogsEachCommandAtDebug()
    {
        var collector = new FakeLogCollector();
        using var provider = new ServiceCollection()
            .AddLogging(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(new FakeLoggerProvider(collector)))
            .AddNatMap()
            .AddFakeCommandRunner()
            .BuildServiceProvider();

        await provider.GetRequiredService<IIptablesManager>().InstallSnatAsync(new SnatConfig(Ip("10.0.0.2"), Ip("203.0.113.5"), "eth0"), Ct);

        collector.GetSnapshot().Should().Contain(r => r.Level == LogLevel.Debug && r.Message.StartsWith("Running iptables-restore --noflush -w 10", StringComparison.Ordinal))
            .And.Contain(r => r.Level == LogLevel.Trace && r.Message.Contains("-A POSTROUTING -s 10.0.0.2/32", StringComparison.Ordinal));
    }

    [Fact]
    public void AddNatMap_Twice_RegistersOneManager()
    {
        var services = new ServiceCollection().AddNatMap().AddNatMap();

        services.Count(d => d.ServiceType == typeof(IIptablesManager)).Should().Be(1);
    }
}

using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using NatMap.Iptables.Hosting;

namespace NatMap.Iptables.Tests.Hosting;

/// <summary>The shipped state sources (configuration, file, etcd without a server) and AddNatMap(IConfiguration).</summary>
public sealed class StateSourceTests : IDisposable
{
    private const string Web = """{ "dockerMaps": [ { "containerId": "web", "hostEndpoint": "0.0.0.0:8080", "containerEndpoint": "172.17.0.2:80" } ] }""";
    private const string Api = """{ "dnats": [ { "externalIp": "203.0.113.5", "internalIp": "10.0.0.2", "ports": "80,443" } ] }""";

    private readonly string _directory = Directory.CreateTempSubdirectory("natmap-source-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Configuration_ReadsTheSection_AndSignalsOnReload()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["NatMap:State:Dnats:0:ExternalIp"] = "203.0.113.5",
            ["NatMap:State:Dnats:0:InternalIp"] = "10.0.0.2",
            ["NatMap:State:Dnats:0:Ports"] = "80",
        }).Build();
        var source = new ConfigurationStateSource(configuration.GetSection("NatMap:State"));
        var token = source.GetReloadToken();

        var state = await source.ReadAsync(Ct);
        configuration["NatMap:State:Dnats:0:Ports"] = "81";
        configuration.Reload();

        source.Description.Should().Be("configuration section NatMap:State");
        state.Dnats.Should().Equal(new DnatConfig(IPAddress.Parse("203.0.113.5"), IPAddress.Parse("10.0.0.2"), 80));
        token.HasChanged.Should().BeTrue();
        (await source.ReadAsync(Ct)).Dnats.Single().Ports.Should().Be(PortSet.Parse("81"));
    }

    [Fact]
    public async Task Configuration_AbsentSection_IsTheEmptyState()
    {
        var source = new ConfigurationStateSource(new ConfigurationBuilder().Build().GetSection("NatMap:State"));

        var state = await source.ReadAsync(Ct);

        state.DockerMaps.Should().BeEmpty();
        state.Dnats.Should().BeEmpty();
        state.Snats.Should().BeEmpty();
        state.Hairpins.Should().BeEmpty();
    }

    [Theory]
    // A value the binder cannot convert (a word for a number): the plain binder would drop the DNAT, and the sync remove it.
    [InlineData("NatMap:State:Dnats:0:InternalPort", "eighty", "$.dnats[0]")]
    // A misspelt optional field: the plain binder would ignore it (a misspelt LanCidr opens a hairpin to every source).
    [InlineData("NatMap:State:Dnats:0:ExternalInterfce", "eth0", "$.dnats[0]")]
    // An unknown list.
    [InlineData("NatMap:State:Dnat:0:Ports", "80", "$.Dnat")]
    // A value that binds but fails validation: the JSON path and the field's own message.
    [InlineData("NatMap:State:Dnats:0:Ports", "0", "$.dnats[0].ports")]
    public async Task Configuration_BadValue_IsRejectedAsAWhole(string key, string value, string path)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["NatMap:State:Dnats:0:ExternalIp"] = "203.0.113.5",
            ["NatMap:State:Dnats:0:InternalIp"] = "10.0.0.2",
            ["NatMap:State:Dnats:0:Ports"] = "80",
            [key] = value,
        }).Build();
        var source = new ConfigurationStateSource(configuration.GetSection("NatMap:State"));

        var act = async () => await source.ReadAsync(Ct);

        (await act.Should().ThrowAsync<NatMapStateException>()).Which.Errors.Should().ContainSingle().Which.Path.Should().Be(path);
    }

    [Fact]
    public async Task File_ReadsTheDocument_AndSignalsWhenItIsReplaced()
    {
        var path = Path.Combine(_directory, "state.json");
        await File.WriteAllTextAsync(path, Web, Ct);
        using var source = new JsonFileStateSource(path);
        var token = source.GetReloadToken();

        (await source.ReadAsync(Ct)).DockerMaps.Single().ContainerId.Should().Be("web");

        // Written elsewhere and renamed into place, as configuration tools do.
        var staged = Path.Combine(_directory, "state.json.tmp");
        await File.WriteAllTextAsync(staged, Api, Ct);
        File.Move(staged, path, overwrite: true);
        await Until(() => token.HasChanged);

        var state = await source.ReadAsync(Ct);
        state.DockerMaps.Should().BeEmpty();
        state.Dnats.Single().Ports.Should().Be(PortSet.Parse("80,443"));
    }

    [Fact]
    public async Task File_WrittenInPlace_Signals()
    {
        var path = Path.Combine(_directory, "state.json");
        await File.WriteAllTextAsync(path, Web, Ct);
        using var source = new JsonFileStateSource(path);
        var token = source.GetReloadToken();

        await File.WriteAllTextAsync(path, Api, Ct);

        await Until(() => token.HasChanged);
    }

    [Fact]
    public async Task File_Invalid_IsRejected_AndMissing_IsUnreachable()
    {
        var path = Path.Combine(_directory, "state.json");
        using var source = new JsonFileStateSource(path);

        var missing = async () => await source.ReadAsync(Ct);
        await missing.Should().ThrowAsync<FileNotFoundException>("a missing file is a source that cannot be read, not a rejected state");

        await File.WriteAllTextAsync(path, """{ "dnats": [ { "externalIp": "203.0.113.5", "internalIp": "10.0.0.2", "ports": "99999" } ] }""", Ct);
        var invalid = async () => await source.ReadAsync(Ct);
        (await invalid.Should().ThrowAsync<NatMapStateException>()).Which.Errors.Single().Path.Should().Be("$.dnats[0].ports");
    }

    [Fact]
    public void File_DirectoryMissing_Throws() =>
        FluentActions.Invoking(() => new JsonFileStateSource(Path.Combine(_directory, "nope", "state.json")))
            .Should().Throw<ArgumentException>().WithParameterName("path").WithMessage("*does not exist*");

    [Fact]
    public async Task Etcd_NoServer_IsUnreachable_NotRejected()
    {
        var options = new EtcdStateSourceOptions { Key = "/natmap/hosts/a", RequestTimeout = TimeSpan.FromSeconds(2) };
        options.Endpoints.Add(new Uri($"http://127.0.0.1:{ClosedPort()}"));
        await using var source = new EtcdStateSource(options);

        var act = async () => await source.ReadAsync(Ct);

        var thrown = (await act.Should().ThrowAsync<Exception>()).Which;
        thrown.Should().NotBeOfType<NatMapStateException>();
        thrown.Message.Should().Contain("etcd");
        source.IsConnected.Should().BeFalse();
    }

    public static TheoryData<Action<EtcdStateSourceOptions>, string> BadEtcdOptions => new()
    {
        // No endpoint at all.
        { o => o.Key = "/k", "*at least one etcd client URL*" },
        // A relative URL.
        { o => { o.Key = "/k"; o.Endpoints.Add(new Uri("/etcd", UriKind.Relative)); }, "*not an absolute http or https URL*" },
        // No key.
        { o => o.Endpoints.Add(new Uri("http://127.0.0.1:2379")), "*Key is required*" },
    };

    [Theory]
    [MemberData(nameof(BadEtcdOptions))]
    public void Etcd_BadOptions_Throw(Action<EtcdStateSourceOptions> configure, string message)
    {
        var options = new EtcdStateSourceOptions();
        configure(options);

        FluentActions.Invoking(() => new EtcdStateSource(options)).Should().Throw<ArgumentException>().WithMessage(message);
    }

    [Fact]
    public void AddNatMap_FromConfiguration_BindsTheOptions()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ChainName"] = "EDGE",
            ["EnableIpv6"] = "false",
            ["XtablesLockWait"] = "00:00:03",
            ["ApplyMode"] = "PerRule",
            ["NetworkNamespace"] = "edge-1",
        }).Build();
        using var services = new ServiceCollection().AddNatMap(configuration).BuildServiceProvider();

        var options = services.GetRequiredService<IOptions<NatMapOptions>>().Value;

        (options.ChainName, options.EnableIpv6, options.XtablesLockWait, options.ApplyMode, options.NetworkNamespace)
            .Should().Be(("EDGE", false, TimeSpan.FromSeconds(3), RuleApplyMode.PerRule, "edge-1"));
        services.GetRequiredService<IIptablesManager>().Should().BeOfType<IptablesManager>()
            .Which.RuleBuilder.Should().NotBeNull();
    }

    [Fact]
    public void AddNatMap_FromConfiguration_InvalidValue_FailsValidationNamingIt()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["ChainName"] = "bad chain" }).Build();
        using var services = new ServiceCollection().AddNatMap(configuration).BuildServiceProvider();

        var act = () => services.GetRequiredService<IOptions<NatMapOptions>>().Value;

        act.Should().Throw<OptionsValidationException>().WithMessage("*ChainName*");
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task Until(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            DateTime.UtcNow.Should().BeBefore(deadline, "the condition should hold within 10 s");
            await Task.Delay(10, Ct);
        }
    }
}

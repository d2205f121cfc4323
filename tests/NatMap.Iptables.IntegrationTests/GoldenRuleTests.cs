using System.Net;
using System.Reflection;
using System.Text;
using NatMap.Iptables.IntegrationTests.Infrastructure;

namespace NatMap.Iptables.IntegrationTests;

/// <summary>
/// What the library leaves in the kernel, Docker-style: for each kind of object, the normalized iptables-save of both
/// families after installing examples, compared with a checked-in golden file (the same for both backends), and shown
/// to users in docs/rules.md. Set NATMAP_UPDATE_GOLDEN=1 to rewrite the golden files and the doc after a deliberate
/// change.
/// </summary>
public sealed class GoldenRuleTests
{
    private static readonly Dictionary<string, (string Title, Func<IptablesManager, Task> Install)> Kinds = new()
    {
        ["setup"] = ("Setup, nothing else installed", _ => Task.CompletedTask),
        ["docker"] = ("Docker mappings: 0.0.0.0:8080 -> 172.17.0.2:80/tcp, [::]:8080 -> [fd00::2]:80/tcp", async m =>
        {
            await m.InstallDockerMapAsync(new("web", IPEndPoint.Parse("0.0.0.0:8080"), IPEndPoint.Parse("172.17.0.2:80")), Ct);
            await m.InstallDockerMapAsync(new("web", IPEndPoint.Parse("[::]:8080"), IPEndPoint.Parse("[fd00::2]:80")), Ct);
        }),
        ["docker-bound"] = ("Docker mappings bound to one address: 192.0.2.10:53 and [2001:db8::10]:53 -> the container, udp", async m =>
        {
            await m.InstallDockerMapAsync(new("dns", IPEndPoint.Parse("192.0.2.10:53"), IPEndPoint.Parse("172.17.0.3:53"), TransportProtocol.Udp), Ct);
            await m.InstallDockerMapAsync(new("dns", IPEndPoint.Parse("[2001:db8::10]:53"), IPEndPoint.Parse("[fd00::3]:53"), TransportProtocol.Udp), Ct);
        }),
        ["docker-loopback"] = ("Docker mappings bound to loopback: 127.0.0.1:5432 and [::1]:5432", async m =>
        {
            await m.InstallDockerMapAsync(new("db", IPEndPoint.Parse("127.0.0.1:5432"), IPEndPoint.Parse("172.17.0.4:5432")), Ct);
            await m.InstallDockerMapAsync(new("db", IPEndPoint.Parse("[::1]:5432"), IPEndPoint.Parse("[fd00::4]:5432")), Ct);
        }),
        ["dnat"] = ("Static DNAT: a port list on eth0, a range, a port redirect, IPv6", async m =>
        {
            await m.InstallDnatAsync(new(IPAddress.Parse("203.0.113.5"), IPAddress.Parse("10.0.0.2"), PortSet.Parse("80,443"), ExternalInterface: "eth0"), Ct);
            await m.InstallDnatAsync(new(IPAddress.Parse("203.0.113.5"), IPAddress.Parse("10.0.0.3"), PortSet.Parse("6000-6010"), TransportProtocol.Udp), Ct);
            await m.InstallDnatAsync(new(IPAddress.Parse("203.0.113.6"), IPAddress.Parse("10.0.0.4"), 2222) { InternalPort = 22 }, Ct);
            await m.InstallDnatAsync(new(IPAddress.Parse("2001:db8::5"), IPAddress.Parse("fd00::2"), 443), Ct);
        }),
        ["snat"] = ("Static SNAT, IPv4 and IPv6", async m =>
        {
            await m.InstallSnatAsync(new(IPAddress.Parse("10.0.0.2"), IPAddress.Parse("203.0.113.5"), "eth0"), Ct);
            await m.InstallSnatAsync(new(IPAddress.Parse("fd00::2"), IPAddress.Parse("2001:db8::5"), "eth0"), Ct);
        }),
        ["hairpin"] = ("Hairpin NAT, with and without a LAN", async m =>
        {
            await m.InstallHairpinAsync(new(IPAddress.Parse("203.0.113.5"), IPAddress.Parse("192.168.1.20"), PortSet.Parse("80,443"), LanCidr: IPNetwork.Parse("192.168.1.0/24")), Ct);
            await m.InstallHairpinAsync(new(IPAddress.Parse("2001:db8::5"), IPAddress.Parse("fd00::20"), 80), Ct);
        }),
    };

    public static TheoryData<string, string> Cases
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var backend in Kernel.Backends)
            {
                foreach (var kind in Kinds.Keys)
                {
                    data.Add(backend, kind);
                }
            }

            return data;
        }
    }

    /// <summary>Gets whether to rewrite the golden files; refused under CI, where every golden test would then pass.</summary>
    private static bool Update
    {
        get
        {
            var update = Environment.GetEnvironmentVariable("NATMAP_UPDATE_GOLDEN") == "1";
            Assert.False(update && Kernel.InCi, "NATMAP_UPDATE_GOLDEN=1 is refused under CI: rewriting the golden files makes every golden test pass.");
            return update;
        }
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Install_KernelRuleset_MatchesTheGoldenFile(string backend, string kind)
    {
        await using var ns = await TestNamespace.CreateAsync(backend);
        var manager = ns.Manager();
        await manager.SetupAsync(Ct);
        await Kinds[kind].Install(manager);

        var actual = $"# iptables-save\n{await ns.SaveAsync()}\n\n# ip6tables-save\n{await ns.SaveAsync(ipv6: true)}\n";

        var path = GoldenPath(kind);
        if (Update && backend == "nft")
        {
            await File.WriteAllTextAsync(path, actual, Ct);
        }

        actual.Should().Be(await File.ReadAllTextAsync(path, Ct), $"the {backend} ruleset after '{kind}' is pinned in {path}");
    }

    [Fact]
    public async Task RulesDoc_ShowsEveryGoldenListing()
    {
        var doc = Path.Combine(RepositoryRoot(), "docs", "rules.md");
        if (Update)
        {
            await File.WriteAllTextAsync(doc, await RenderDocAsync(), Ct);
        }

        var text = await File.ReadAllTextAsync(doc, Ct);
        foreach (var kind in Kinds.Keys)
        {
            text.Should().Contain(await File.ReadAllTextAsync(GoldenPath(kind), Ct), $"docs/rules.md shows the '{kind}' listing as the kernel prints it");
        }
    }

    private static async Task<string> RenderDocAsync()
    {
        var doc = new StringBuilder("""
            # What NatMap.Iptables does to the host

            Each listing below is what `iptables-save` and `ip6tables-save` print (counters and comment lines removed) in a
            fresh network namespace after `SetupAsync` and the installs named in the heading, with default options. The
            integration tests compare the real kernel with these listings on both backends (nft and legacy), so this page
            changes only when the rules do. The loopback guard's comment says `natmap:setup:route_localnet` when Setup turned
            `net.ipv4.conf.all.route_localnet` on, which FlushAll undoes.

            A Docker mapping's rules are not appended to one long chain that every new connection walks: each goes to the
            chain of its protocol and port. Ports are grouped by 2,048 (`NATMAP-T3` holds tcp 6144-8191) and bucketed by 64
            within a group (`NATMAP-T3-30` holds tcp 8064-8127), with `U` for udp, all by the mapping's host port. The DNAT
            is dispatched from nat `NATMAP` by the packet's port (`--dport`); the ACCEPT from filter `NATMAP`, and the
            hairpin MASQUERADE from nat `NATMAP-P` (chains `NATMAP-PT3-30` and so on), by the translated connection's
            original port (`-m conntrack --ctorigdstport`), since many containers share a container port. `POSTROUTING`
            reaches `NATMAP-P` only for translated connections (`--ctstate DNAT`). So a new connection walks at most 32 group jumps, 32 bucket jumps and the rules of its own
            64 ports, whatever the number of mappings. The jumps carry the comment `natmap:setup:bucket`; a group or bucket
            chain is made, with its jump, by the first rule that needs it and deleted, with its jump, by the removal of the
            last (`NatRuleBuilder.BuildDispatchJumps`).

            """);
        foreach (var (kind, (title, _)) in Kinds)
        {
            doc.Append("\n## ").Append(title).Append("\n\n```\n").Append(await File.ReadAllTextAsync(GoldenPath(kind), Ct)).Append("```\n");
        }

        // The nftables section is written by hand (and checked by NftRendererTests): kept as it stands.
        var path = Path.Combine(RepositoryRoot(), "docs", "rules.md");
        var current = File.Exists(path) ? await File.ReadAllTextAsync(path, Ct) : string.Empty;
        var nftables = current.IndexOf("\n## The nftables backend", StringComparison.Ordinal);
        if (nftables >= 0)
        {
            doc.Append(current[nftables..]);
        }

        return doc.ToString();
    }

    private static readonly string ProjectDirectory = typeof(GoldenRuleTests).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "ProjectDirectory").Value!;

    private static string GoldenPath(string kind) => Path.Combine(ProjectDirectory, "Golden", $"{kind}.txt");

    private static string RepositoryRoot() => Path.GetFullPath(Path.Combine(ProjectDirectory, "..", ".."));
}

namespace NatMap.Iptables.Tests.Reading;

/// <summary>
/// Review item 5: ListAsync's reader checked each object against every one read before (List.Contains), O(n²) in the
/// objects. A timing test, so it runs alone: other tests running beside it on two cores would weigh on one size only.
/// </summary>
[Collection(nameof(StateReaderScalingTests))]
[CollectionDefinition(nameof(StateReaderScalingTests), DisableParallelization = true)]
public sealed class StateReaderScalingTests
{
    [Fact]
    public void StateReader_FourTimesTheMappings_AboutFourTimesTheTime()
    {
        // Review item 5: each object was checked against every one read before (List.Contains), O(n²) in the mappings:
        // four times the mappings took sixteen times as long. The listings are parsed beforehand, so only the reading counts.
        static NatMap.Iptables.Internal.TableListing Listing(int n)
        {
            var save = new System.Text.StringBuilder(":NATMAP - [0:0]\n");
            for (var i = 0; i < n; i++)
            {
                var container = $"172.{16 + (i / 64_000)}.{i / 250 % 256}.{(i % 250) + 2}";
                var port = 1 + (i % 64_000);
                save.Append(System.Globalization.CultureInfo.InvariantCulture,
                    $"-A NATMAP -p tcp -m tcp --dport {port} -m comment --comment \"natmap:docker:c{i}:tcp:0.0.0.0:{port}:{container}:80\" -j DNAT --to-destination {container}:80\n");
            }

            return NatMap.Iptables.Internal.TableListing.Parse(save.ToString());
        }

        static TimeSpan Fastest(NatMap.Iptables.Internal.TableListing listing, int expected)
        {
            var best = TimeSpan.MaxValue;
            for (var run = 0; run < 5; run++)
            {
                var reader = new NatMap.Iptables.Internal.StateReader(NatMap.Iptables.Rules.NatRuleBuilder.Default);
                var watch = System.Diagnostics.Stopwatch.StartNew();
                reader.Read(listing, System.Net.Sockets.AddressFamily.InterNetwork);
                best = watch.Elapsed < best ? watch.Elapsed : best;
                reader.State.DockerMaps.Should().HaveCount(expected);
            }

            return best;
        }

        var small = Fastest(Listing(10_000), 10_000);
        var large = Fastest(Listing(40_000), 40_000);

        (large / small).Should().BeLessThan(10, $"linear reading takes about 4 times as long, quadratic 16 ({small.TotalMilliseconds:0} ms, {large.TotalMilliseconds:0} ms)");
    }
}

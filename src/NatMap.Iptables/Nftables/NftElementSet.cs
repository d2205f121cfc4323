using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using NatMap.Iptables.Internal;

namespace NatMap.Iptables.Nftables;

/// <summary>
/// A set of desired mappings formatted once, in one pass: each element's text written straight into one buffer per
/// map (already joined with <c>", "</c>, as a script lists them), the digest hashed from that text, and the first two
/// mappings that publish the same key. Pure, and read-only once made, so a Sync can make it while its reads run and use
/// it for the digest check, the script and the clash check alike.
/// </summary>
/// <remarks>
/// An element's text is exactly <see cref="NftRenderer.Line"/>'s (<c>tcp . 8080 comment "web" : 172.17.0.2 . 80</c>),
/// so the digests equal <see cref="NftRenderer.Digests(IEnumerable{DockerPortMap})"/> of the same mappings and a script
/// rendered from the set equals one rendered from the lines.
/// </remarks>
internal sealed class NftElementSet
{
    /// <summary>The four maps in the ordinal order of their names: the order a script writes them in.</summary>
    internal static readonly string[] MapNames = [NftSchema.Bound4, NftSchema.Bound6, NftSchema.Unbound4, NftSchema.Unbound6];

    private const string Separator = ", ";

    /// <summary>What ends a command of elements.</summary>
    private const string Close = " }\n";

    /// <summary>
    /// The most characters one element and its separator take: two addresses (at most 65 each, an IPv6 address with a
    /// zone), two ports, a protocol, a container id (at most <see cref="NatMapLimits.MaxContainerIdLength"/>) and the words
    /// between them, with room to spare.
    /// </summary>
    private const int MaxElementLength = 512;

    /// <summary>The FNV-1a offset basis, and the start of every element's hash.</summary>
    private const ulong FnvBasis = 14695981039346656037UL;

    private const ulong FnvPrime = 1099511628211UL;

    private readonly Buffer[] _text;
    private readonly Element[] _elements;

    private NftElementSet(IReadOnlyList<DockerPortMap> mappings, Buffer[] text, Element[] elements, (string Unmarked, string Marked) digests, (DockerPortMap First, DockerPortMap Second)? clash)
    {
        Mappings = mappings;
        _text = text;
        _elements = elements;
        UnmarkedDigest = digests.Unmarked;
        MarkedDigest = digests.Marked;
        Clash = clash;
    }

    /// <summary>Gets the mappings, each once, in the order first given.</summary>
    public IReadOnlyList<DockerPortMap> Mappings { get; }

    /// <summary>Gets the digest of the mappings with the guard unmarked (see <see cref="NftRenderer.Digests(IEnumerable{DockerPortMap})"/>).</summary>
    public string UnmarkedDigest { get; }

    /// <summary>Gets the digest of the mappings with the guard marked.</summary>
    public string MarkedDigest { get; }

    /// <summary>Gets the first two mappings, in the order given, that publish the same key (address, protocol, port) with different targets; <see langword="null"/> when none do.</summary>
    public (DockerPortMap First, DockerPortMap Second)? Clash { get; }

    /// <summary>The digest a Sync writes for these mappings and the guard's marking.</summary>
    public string Digest(bool routeLocalnetOwned) => routeLocalnetOwned ? MarkedDigest : UnmarkedDigest;

    /// <summary>Formats <paramref name="maps"/> once: each distinct mapping one element, its hash, and the first clash.</summary>
    public static NftElementSet Of(IEnumerable<DockerPortMap> maps)
    {
        ArgumentNullException.ThrowIfNull(maps);
        var text = new Buffer[MapNames.Length];
        var seeds = new ulong[MapNames.Length];
        for (var m = 0; m < MapNames.Length; m++)
        {
            text[m] = new Buffer();
            seeds[m] = Fnv1a(" ", Fnv1a(MapNames[m], FnvBasis));
        }

        var count = maps is IReadOnlyCollection<DockerPortMap> collection ? collection.Count : 0;
        var byKey = new Dictionary<(IPAddress Address, TransportProtocol Protocol, int Port), DockerPortMap>(count);
        var mappings = new List<DockerPortMap>(count);
        var elements = new List<Element>(count);
        var hashes = new List<ulong>(count);
        (DockerPortMap, DockerPortMap)? clash = null;
        HashSet<DockerPortMap>? clashing = null;
        foreach (var map in maps)
        {
            ArgumentNullException.ThrowIfNull(map);
            var host = map.HostEndpoint; // a copy per read: read once
            if (!byKey.TryAdd((host.Address, map.Protocol, host.Port), map))
            {
                var other = byKey[(host.Address, map.Protocol, host.Port)];
                if (other == map)
                {
                    continue; // the same mapping again
                }

                // Another target for a taken key: a clash, which a Sync refuses. The mapping is still an element of the
                // set (once), so the digests are those of every distinct mapping given.
                clash ??= (other, map);
                clashing ??= [];
                if (!clashing.Add(map))
                {
                    continue;
                }
            }

            var index = Index(host.Address);
            var buffer = text[index];
            buffer.Ensure(MaxElementLength);
            if (buffer.Length > 0)
            {
                buffer.Append(Separator);
            }

            var (chunk, start) = (buffer.Chunk, buffer.Position);
            Write(buffer, map, host);
            var length = buffer.Position - start;
            elements.Add(new Element((byte)index, chunk, start, length));
            hashes.Add(Fnv1a(buffer.Span(chunk, start, length), seeds[index]));
            mappings.Add(map);
        }

        return new NftElementSet(mappings, text, [.. elements], Digests(hashes), clash);
    }

    /// <summary>
    /// Both digests of element hashes: sorted and made distinct (so order and repeats do not count), then SHA-256 over
    /// them, and over them and the guard's marking, in lowercase hex.
    /// </summary>
    internal static (string Unmarked, string Marked) Digests(List<ulong> hashes)
    {
        hashes.Sort();
        var bytes = new byte[hashes.Count * sizeof(ulong)];
        var length = 0;
        for (var i = 0; i < hashes.Count; i++)
        {
            if (i == 0 || hashes[i] != hashes[i - 1])
            {
                BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(length), hashes[i]);
                length += sizeof(ulong);
            }
        }

        using var unmarked = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        unmarked.AppendData(bytes, 0, length);
        using var marked = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        marked.AppendData(bytes, 0, length);
        marked.AppendData("route_localnet"u8);
        return (Convert.ToHexString(unmarked.GetHashAndReset()).ToLowerInvariant(), Convert.ToHexString(marked.GetHashAndReset()).ToLowerInvariant());
    }

    /// <summary>The 64-bit FNV-1a hash of <paramref name="text"/>, continued from <paramref name="hash"/>.</summary>
    internal static ulong Fnv1a(ReadOnlySpan<char> text, ulong hash)
    {
        foreach (var c in text)
        {
            hash = (hash ^ c) * FnvPrime;
        }

        return hash;
    }

    /// <summary>
    /// Appends one <c>VERB element inet T MAP { … }</c> command per map (in name order) that holds any of the elements
    /// <paramref name="include"/> admits (every element when it is <see langword="null"/>), each element's text as formatted.
    /// </summary>
    public void AppendCommands(System.Text.StringBuilder script, string verb, string qualifiedTable, Func<int, bool>? include = null)
    {
        for (var m = 0; m < MapNames.Length; m++)
        {
            if (include is null)
            {
                if (_text[m].Length > 0)
                {
                    _text[m].CopyTo(Open(script, verb, qualifiedTable, m));
                    script.Append(Close);
                }

                continue;
            }

            var open = false;
            for (var i = 0; i < _elements.Length; i++)
            {
                var element = _elements[i];
                if (element.Map != m || !include(i))
                {
                    continue;
                }

                (open ? script.Append(Separator) : Open(script, verb, qualifiedTable, m)).Append(_text[m].Span(element.Chunk, element.Start, element.Length));
                open = true;
            }

            if (open)
            {
                script.Append(Close);
            }
        }
    }

    /// <summary>
    /// One <c>VERB element inet T MAP { … }</c> command per map (in name order) that holds any element, with every
    /// element, then <paramref name="suffix"/>: the script made at its exact length, each character copied once.
    /// </summary>
    public string RenderCommands(string verb, string qualifiedTable, string suffix)
    {
        var headers = new string?[MapNames.Length];
        var length = suffix.Length;
        for (var m = 0; m < MapNames.Length; m++)
        {
            if (_text[m].Length > 0)
            {
                headers[m] = $"{verb} element {qualifiedTable} {MapNames[m]} {{ ";
                length += headers[m]!.Length + _text[m].Length + Close.Length;
            }
        }

        return string.Create(length, (Text: _text, Headers: headers, Suffix: suffix), static (script, parts) =>
        {
            var at = 0;
            for (var m = 0; m < parts.Text.Length; m++)
            {
                if (parts.Headers[m] is { } header)
                {
                    header.CopyTo(script[at..]);
                    at += header.Length;
                    at += parts.Text[m].CopyTo(script[at..]);
                    Close.CopyTo(script[at..]);
                    at += Close.Length;
                }
            }

            parts.Suffix.CopyTo(script[at..]);
        });
    }

    private static System.Text.StringBuilder Open(System.Text.StringBuilder script, string verb, string qualifiedTable, int map) =>
        script.Append(verb).Append(" element ").Append(qualifiedTable).Append(' ').Append(MapNames[map]).Append(" { ");

    /// <summary>The map of a host address, as an index into <see cref="MapNames"/>.</summary>
    private static int Index(IPAddress host) => Array.IndexOf(MapNames, NftSchema.MapName(host.AddressFamily, Bound(host)));

    /// <summary>Whether a mapping is bound to one host address (not <c>0.0.0.0</c> or <c>::</c>).</summary>
    private static bool Bound(IPAddress host) => !host.Equals(IPAddress.Any) && !host.Equals(IPAddress.IPv6Any);

    /// <summary><c>[ADDRESS . ]PROTOCOL . PORT comment "ID" : ADDRESS . PORT</c>, as <see cref="NftRenderer.Line"/> writes it.</summary>
    private static void Write(Buffer buffer, DockerPortMap map, IPEndPoint host)
    {
        if (Bound(host.Address))
        {
            buffer.Append(host.Address).Append(" . ");
        }

        var container = map.ContainerEndpoint;
        Guard.SameFamily(host.Address, nameof(DockerPortMap.HostEndpoint), container.Address, nameof(DockerPortMap.ContainerEndpoint));
        buffer.Append(Tokens.Protocol(map.Protocol)).Append(" . ").Append(host.Port).Append(" comment \"").Append(map.ContainerId).Append("\" : ")
            .Append(container.Address).Append(" . ").Append(container.Port);
    }

    /// <summary>Where one element's text is: its map, and its chunk, start and length in that map's buffer.</summary>
    private readonly record struct Element(byte Map, int Chunk, int Start, int Length);

    /// <summary>
    /// A growing character buffer in chunks small enough to stay off the large object heap (whose growth would cost
    /// full collections), that formats numbers and addresses in place, without a string per value. An element never
    /// straddles two chunks.
    /// </summary>
    private sealed class Buffer
    {
        /// <summary>32 KiB of characters: well under the 85,000 bytes of the large object heap.</summary>
        private const int ChunkLength = 16 * 1024;

        private readonly List<char[]> _chunks = [];
        private readonly List<int> _used = [];
        private char[] _current = [];
        private int _length;

        /// <summary>Gets the number of characters written.</summary>
        public int Length { get; private set; }

        /// <summary>Gets the chunk the next characters go to.</summary>
        public int Chunk => _chunks.Count - 1;

        /// <summary>Gets where in <see cref="Chunk"/> the next characters go.</summary>
        public int Position => _length;

        /// <summary>Makes room for one element of at most <paramref name="count"/> characters in the current chunk, starting a new one when needed.</summary>
        public void Ensure(int count)
        {
            if (_length + count <= _current.Length)
            {
                return;
            }

            if (_chunks.Count > 0)
            {
                _used[^1] = _length;
            }

            _current = new char[Math.Max(ChunkLength, count)];
            _chunks.Add(_current);
            _used.Add(0);
            _length = 0;
        }

        /// <summary>The characters of <paramref name="chunk"/> from <paramref name="start"/>.</summary>
        public ReadOnlySpan<char> Span(int chunk, int start, int length) => _chunks[chunk].AsSpan(start, length);

        /// <summary>Copies every character written, chunk by chunk, to the start of <paramref name="target"/>; returns how many.</summary>
        public int CopyTo(Span<char> target)
        {
            var at = 0;
            for (var c = 0; c < _chunks.Count; c++)
            {
                var chunk = _chunks[c].AsSpan(0, c == _chunks.Count - 1 ? _length : _used[c]);
                chunk.CopyTo(target[at..]);
                at += chunk.Length;
            }

            return at;
        }

        /// <summary>Appends every character written, chunk by chunk.</summary>
        public void CopyTo(System.Text.StringBuilder script)
        {
            for (var c = 0; c < _chunks.Count; c++)
            {
                script.Append(_chunks[c].AsSpan(0, c == _chunks.Count - 1 ? _length : _used[c]));
            }
        }

        public Buffer Append(string text)
        {
            text.CopyTo(Free(text.Length));
            Advance(text.Length);
            return this;
        }

        public Buffer Append(int value)
        {
            if (!value.TryFormat(Free(11), out var written, provider: CultureInfo.InvariantCulture))
            {
                throw new InvalidOperationException("An int did not fit in 11 characters.");
            }

            Advance(written);
            return this;
        }

        public Buffer Append(IPAddress address)
        {
            if (!address.TryFormat(Free(65), out var written))
            {
                throw new InvalidOperationException($"The address {address} did not fit in 65 characters.");
            }

            Advance(written);
            return this;
        }

        private Span<char> Free(int count) =>
            _length + count <= _current.Length ? _current.AsSpan(_length) : throw new InvalidOperationException("An element is longer than the room made for it.");

        private void Advance(int count)
        {
            _length += count;
            Length += count;
        }
    }
}

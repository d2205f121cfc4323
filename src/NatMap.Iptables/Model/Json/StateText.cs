using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace NatMap.Iptables.Internal;

/// <summary>
/// Converts between <see cref="NatMapStateDocument"/> (text) and <see cref="NatMapState"/> (validated objects). Every
/// field is read on its own so one document reports every bad field, each with its JSON path.
/// </summary>
internal static class StateText
{
    public static NatMapStateDocument ToDocument(NatMapState state)
    {
        ArgumentNullException.ThrowIfNull(state.DockerMaps, nameof(NatMapState.DockerMaps));
        ArgumentNullException.ThrowIfNull(state.Dnats, nameof(NatMapState.Dnats));
        ArgumentNullException.ThrowIfNull(state.Snats, nameof(NatMapState.Snats));
        ArgumentNullException.ThrowIfNull(state.Hairpins, nameof(NatMapState.Hairpins));
        return new NatMapStateDocument
        {
            DockerMaps = [.. state.DockerMaps.Select(static m => new DockerPortMapDocument
            {
                ContainerId = m.ContainerId,
                HostEndpoint = m.HostEndpoint.ToString(),
                ContainerEndpoint = m.ContainerEndpoint.ToString(),
                Protocol = Protocol(m.Protocol),
            })],
            Dnats = [.. state.Dnats.Select(static d => new DnatConfigDocument
            {
                ExternalIp = d.ExternalIp.ToString(),
                InternalIp = d.InternalIp.ToString(),
                Ports = d.Ports.ToString(),
                Protocol = Protocol(d.Protocol),
                ExternalInterface = d.ExternalInterface,
                InternalPort = d.InternalPort,
            })],
            Snats = [.. state.Snats.Select(static s => new SnatConfigDocument
            {
                InternalIp = s.InternalIp.ToString(),
                ExternalIp = s.ExternalIp.ToString(),
                ExternalInterface = s.ExternalInterface,
            })],
            Hairpins = [.. state.Hairpins.Select(static h => new HairpinConfigDocument
            {
                ExternalIp = h.ExternalIp.ToString(),
                InternalIp = h.InternalIp.ToString(),
                Ports = h.Ports.ToString(),
                Protocol = Protocol(h.Protocol),
                LanCidr = h.LanCidr?.ToString(),
            })],
        };
    }

    public static NatMapState ToState(NatMapStateDocument document, List<NatMapStateError> errors) => new()
    {
        DockerMaps = Items(document.DockerMaps, "$.dockerMaps", errors, static (d, f) =>
        {
            var id = f.Required(d.ContainerId, "containerId");
            var host = f.Endpoint(d.HostEndpoint, "hostEndpoint");
            var container = f.Endpoint(d.ContainerEndpoint, "containerEndpoint");
            var protocol = f.Protocol(d.Protocol);
            return f.Build(() => new DockerPortMap(id!, host!, container!, protocol!.Value));
        }),
        Dnats = Items(document.Dnats, "$.dnats", errors, static (d, f) =>
        {
            var external = f.Address(d.ExternalIp, "externalIp");
            var @internal = f.Address(d.InternalIp, "internalIp");
            var ports = f.Ports(d.Ports);
            var protocol = f.Protocol(d.Protocol);
            return f.Build(() =>
            {
                var config = new DnatConfig(external!, @internal!, ports!.Value, protocol!.Value, d.ExternalInterface) { InternalPort = d.InternalPort };
                config.Validate();
                return config;
            });
        }),
        Snats = Items(document.Snats, "$.snats", errors, static (d, f) =>
        {
            var @internal = f.Address(d.InternalIp, "internalIp");
            var external = f.Address(d.ExternalIp, "externalIp");
            var iface = f.Required(d.ExternalInterface, "externalInterface");
            return f.Build(() =>
            {
                var config = new SnatConfig(@internal!, external!, iface!);
                config.Validate();
                return config;
            });
        }),
        Hairpins = Items(document.Hairpins, "$.hairpins", errors, static (d, f) =>
        {
            var external = f.Address(d.ExternalIp, "externalIp");
            var @internal = f.Address(d.InternalIp, "internalIp");
            var ports = f.Ports(d.Ports);
            var protocol = f.Protocol(d.Protocol);
            var lan = f.Network(d.LanCidr, "lanCidr");
            return f.Build(() =>
            {
                var config = new HairpinConfig(external!, @internal!, ports!.Value, protocol!.Value, lan);
                config.Validate();
                return config;
            });
        }),
    };

    private static string Protocol(TransportProtocol protocol) => protocol == TransportProtocol.Udp ? "udp" : "tcp";

    private static List<T> Items<TDocument, T>(
        IList<TDocument>? documents, string path, List<NatMapStateError> errors, Func<TDocument, Fields, T?> convert)
        where TDocument : class
        where T : class
    {
        var result = new List<T>();
        for (var i = 0; i < (documents?.Count ?? 0); i++)
        {
            var itemPath = string.Create(CultureInfo.InvariantCulture, $"{path}[{i}]");
            if (documents![i] is not { } document)
            {
                errors.Add(new NatMapStateError(itemPath, "The entry is null; expected an object."));
                continue;
            }

            if (convert(document, new Fields(itemPath, errors)) is { } item)
            {
                result.Add(item);
            }
        }

        return result;
    }

    /// <summary>Reads the fields of one entry, recording an error for each bad one and returning <see langword="null"/> for it.</summary>
    private sealed class Fields(string path, List<NatMapStateError> errors)
    {
        private bool _failed;

        public string? Required(string? value, string name)
        {
            if (value is null)
            {
                return Fail(name, $"{name} is required.");
            }

            return value;
        }

        public IPAddress? Address(string? value, string name)
        {
            if (Required(value, name) is not { } text)
            {
                return null;
            }

            return TryAddress(text, out var address)
                ? address
                : Fail<IPAddress>(name, $"'{Guard.Printable(text)}' is not an IP address such as 10.0.0.2 or fd00::2.");
        }

        public IPEndPoint? Endpoint(string? value, string name)
        {
            if (Required(value, name) is not { } text)
            {
                return null;
            }

            // IPEndPoint.TryParse reads "fd00::2" as an address without a port and "1" as 0.0.0.1: demand the written form.
            var ok = IPEndPoint.TryParse(text, out var endpoint) && endpoint.Address.AddressFamily switch
            {
                AddressFamily.InterNetwork => endpoint.ToString() == text,
                _ => text.StartsWith('[') && text.Contains("]:", StringComparison.Ordinal),
            };
            return ok
                ? endpoint
                : Fail<IPEndPoint>(name, $"'{Guard.Printable(text)}' is not an endpoint such as 0.0.0.0:8080, 172.17.0.2:80 or [::]:8080.");
        }

        public IPNetwork? Network(string? value, string name)
        {
            if (value is null)
            {
                return null;
            }

            var ok = IPNetwork.TryParse(value, out var network)
                && (network.BaseAddress.AddressFamily != AddressFamily.InterNetwork || network.ToString() == value);
            return ok
                ? network
                : Fail<IPNetwork?>(name, $"'{Guard.Printable(value)}' is not a network such as 10.0.0.0/24 (no address bits may be set past the prefix).");
        }

        public PortSet? Ports(string? value)
        {
            if (Required(value, "ports") is not { } text)
            {
                return null;
            }

            try
            {
                return PortSet.Parse(text);
            }
            catch (FormatException exception)
            {
                return Fail<PortSet?>("ports", exception.Message);
            }
        }

        public TransportProtocol? Protocol(string? value)
        {
            if (value is null || value.Equals("tcp", StringComparison.OrdinalIgnoreCase))
            {
                return TransportProtocol.Tcp;
            }

            return value.Equals("udp", StringComparison.OrdinalIgnoreCase)
                ? TransportProtocol.Udp
                : Fail<TransportProtocol?>("protocol", $"'{Guard.Printable(value)}' is not a protocol; use tcp or udp.");
        }

        /// <summary>Builds the object when every field read, turning the model's own validation failure into an error.</summary>
        public T? Build<T>(Func<T> build)
            where T : class
        {
            if (_failed)
            {
                return null;
            }

            try
            {
                return build();
            }
            catch (ArgumentException exception)
            {
                var field = exception.ParamName is { Length: > 0 } name ? JsonNamingPolicy.CamelCase.ConvertName(name) : null;
                return Fail<T>(field, OwnMessage(exception));
            }
        }

        private static bool TryAddress(string text, out IPAddress address)
        {
            // IPAddress.TryParse reads "1" as 0.0.0.1 and "010.0.0.1" as 8.0.0.1: an IPv4 address must be written as it prints.
            return IPAddress.TryParse(text, out address!)
                && (address.AddressFamily != AddressFamily.InterNetwork || address.ToString() == text);
        }

        /// <summary>The exception's message without the " (Parameter 'x')" and "Actual value was" lines the runtime appends.</summary>
        private static string OwnMessage(ArgumentException exception)
        {
            var message = exception.Message;
            var cut = exception.ParamName is { } name ? message.IndexOf($" (Parameter '{name}')", StringComparison.Ordinal) : -1;
            return cut >= 0 ? message[..cut] : message;
        }

        private string? Fail(string field, string message) => Fail<string>(field, message);

        private TResult? Fail<TResult>(string? field, string message)
        {
            _failed = true;
            errors.Add(new NatMapStateError(field is null ? path : $"{path}.{field}", message));
            return default;
        }
    }
}

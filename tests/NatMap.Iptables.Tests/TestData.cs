using System.Net;

namespace NatMap.Iptables.Tests;

/// <summary>Short constructors for test models.</summary>
internal static class TestData
{
    public static IPAddress Ip(string text) => IPAddress.Parse(text);

    public static IPEndPoint Ep(string text) => IPEndPoint.Parse(text);

    public static DockerPortMap Map(string host = "0.0.0.0:8080", string container = "172.17.0.2:80", TransportProtocol protocol = TransportProtocol.Tcp, string id = "web") =>
        new(id, Ep(host), Ep(container), protocol);
}

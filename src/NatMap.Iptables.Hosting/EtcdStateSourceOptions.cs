namespace NatMap.Iptables.Hosting;

/// <summary>Settings of an <see cref="EtcdStateSource"/>.</summary>
public sealed class EtcdStateSourceOptions
{
    /// <summary>Gets the etcd client URLs to use, such as <c>http://10.0.0.1:2379</c>; after a lost connection the next one is tried.</summary>
    /// <value>The default is empty: at least one is required.</value>
    public IList<Uri> Endpoints { get; } = [];

    /// <summary>Gets or sets the key that holds this host's desired state, as a JSON document in the format of <see cref="NatMapStateJson"/>.</summary>
    /// <value>The default is empty: required. One key per host, such as <c>/natmap/hosts/edge-1</c>.</value>
    public string Key { get; set; } = "";

    /// <summary>Gets or sets how long one read of the key may take before the source counts etcd as unreachable.</summary>
    /// <value>The default is 5 seconds. Greater than zero.</value>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Gets or sets the first wait before reconnecting after a lost connection; each failure in a row doubles it.</summary>
    /// <value>The default is 1 second. Greater than zero.</value>
    public TimeSpan MinReconnectDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Gets or sets the longest wait between reconnection attempts.</summary>
    /// <value>The default is 30 seconds. At least <see cref="MinReconnectDelay"/>.</value>
    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(30);
}

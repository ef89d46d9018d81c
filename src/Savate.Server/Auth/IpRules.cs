using System.Net;

namespace Savate.Server.Auth;

/// <summary>
/// Allow and deny CIDR lists. A deny match refuses; otherwise an empty allow list lets everyone in and a
/// non-empty one only its networks. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, as dual-stack sockets
/// report IPv4 clients) are checked as IPv4.
/// </summary>
public sealed record IpRules
{
    /// <summary>No rules: everyone allowed.</summary>
    public static IpRules None { get; } = new();

    /// <summary>Networks allowed (empty: all).</summary>
    public IReadOnlyList<IPNetwork> Allow { get; init => field = Configuration.ValueList<IPNetwork>.From(value); } = Configuration.ValueList<IPNetwork>.Empty;

    /// <summary>Networks refused, whatever <see cref="Allow"/> says.</summary>
    public IReadOnlyList<IPNetwork> Deny { get; init => field = Configuration.ValueList<IPNetwork>.From(value); } = Configuration.ValueList<IPNetwork>.Empty;

    /// <summary>True when neither list has an entry.</summary>
    public bool IsEmpty => Allow.Count == 0 && Deny.Count == 0;

    /// <summary>What a reload's change line shows.</summary>
    public override string ToString() => IsEmpty ? "none" : $"{{allow {Allow}, deny {Deny}}}";

    /// <summary>True when <paramref name="address"/> may connect.</summary>
    public bool Allows(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        foreach (var network in Deny)
        {
            if (network.Contains(address))
            {
                return false;
            }
        }
        if (Allow.Count == 0)
        {
            return true;
        }
        foreach (var network in Allow)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// Parses CIDR strings ("10.0.0.0/8", "2001:db8::/32", or a bare address for a single host); each bad one
    /// is added to <paramref name="errors"/> with <paramref name="where"/> naming the key.
    /// </summary>
    public static IReadOnlyList<IPNetwork> ParseNetworks(IEnumerable<string> values, string where, ICollection<string> errors)
    {
        var networks = new List<IPNetwork>();
        foreach (var value in values)
        {
            var text = value.Trim();
            if (!text.Contains('/', StringComparison.Ordinal) && IPAddress.TryParse(text, out var host))
            {
                networks.Add(new IPNetwork(host, host.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128));
            }
            else if (IPNetwork.TryParse(text, out var network))
            {
                networks.Add(network);
            }
            else
            {
                errors.Add($"{where}: '{value}' is not a CIDR network (write it as 10.0.0.0/8 or 2001:db8::/32)");
            }
        }
        return networks;
    }
}

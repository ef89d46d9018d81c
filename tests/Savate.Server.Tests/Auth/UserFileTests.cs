using System.Net;
using Savate.Server.Auth;
using Xunit;

namespace Savate.Server.Tests.Auth;

public sealed class UserFileTests
{
    // Made by Apache's `htpasswd -nbB` (Debian apache2-utils), so files from the tool operators use load here.
    private const string Htpasswd = """
        # listeners of /paid.flv
        alice:$2y$05$vh8tNApp23TTeA/.ftkp8.rBwlh.ph.2.86hMj/uX1LkbcaR7jOUe

        bob:$2y$05$0p54DalxcmGsDCsbGpsWLeit7Kvoj69ajQWHlVDKjGkcd0/39QvkK
        """;

    [Fact]
    public void Verify_HtpasswdBcryptEntries_RightPasswordOnly()
    {
        var users = UserFile.Parse(Htpasswd, "listeners.htpasswd");

        Assert.Equal(["alice", "bob"], users.Users.Order());
        Assert.True(users.Verify("alice", "wonderland"));
        Assert.True(users.Verify("alice", "wonderland")); // remembered
        Assert.True(users.Verify("bob", "builder"));
        Assert.False(users.Verify("alice", "builder"));
        Assert.False(users.Verify("bob", ""));
        Assert.False(users.Verify("mallory", "wonderland"));
    }

    [Fact]
    public void Parse_NonBcryptOrMalformedLines_ListsEveryErrorWithItsLine()
    {
        var text = "carol:$apr1$r.jp0Olp$C.mckJjTrFeox3anokeEz.\nnocolon\ndave:plain\nalice:$2y$05$vh8tNApp23TTeA/.ftkp8.rBwlh.ph.2.86hMj/uX1LkbcaR7jOUe\nalice:$2y$05$vh8tNApp23TTeA/.ftkp8.rBwlh.ph.2.86hMj/uX1LkbcaR7jOUe\n";

        var error = Assert.Throws<FormatException>(() => UserFile.Parse(text, "u.htpasswd"));

        Assert.Contains("u.htpasswd:1: user 'carol' has no bcrypt hash", error.Message, StringComparison.Ordinal);
        Assert.Contains("u.htpasswd:2: not 'user:hash'", error.Message, StringComparison.Ordinal);
        Assert.Contains("u.htpasswd:3: user 'dave'", error.Message, StringComparison.Ordinal);
        Assert.Contains("u.htpasswd:5: user 'alice' appears twice", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("wonderland", error.Message, StringComparison.Ordinal);
    }
}

public sealed class IpRulesTests
{
    [Fact]
    public void Allows_DenyBeatsAllow_EmptyAllowMeansEveryone()
    {
        var errors = new List<string>();
        var rules = new IpRules
        {
            Allow = IpRules.ParseNetworks(["192.168.0.0/16", "127.0.0.1"], "listener-ip.allow", errors),
            Deny = IpRules.ParseNetworks(["192.168.7.0/24"], "listener-ip.deny", errors),
        };

        Assert.Empty(errors);
        Assert.True(rules.Allows(IPAddress.Parse("192.168.1.9")));
        Assert.False(rules.Allows(IPAddress.Parse("192.168.7.9")));
        Assert.True(rules.Allows(IPAddress.Parse("127.0.0.1")));
        Assert.False(rules.Allows(IPAddress.Parse("127.0.0.2")));
        Assert.False(rules.Allows(IPAddress.Parse("10.0.0.1")));
        Assert.True(rules.Allows(IPAddress.Parse("::ffff:192.168.1.9")));
        Assert.False(rules.Allows(IPAddress.Parse("::ffff:192.168.7.9")));
        Assert.True(IpRules.None.Allows(IPAddress.Parse("203.0.113.5")));
    }

    [Fact]
    public void ParseNetworks_Garbage_NamesTheKeyAndValue()
    {
        var errors = new List<string>();
        var networks = IpRules.ParseNetworks(["10.0.0.0/8", "10.0.0.0/33", "example.com", "2001:db8::/32"], "server.trusted-proxies", errors);

        Assert.Equal(2, networks.Count);
        Assert.Equal(2, errors.Count);
        Assert.All(errors, e => Assert.StartsWith("server.trusted-proxies: '", e, StringComparison.Ordinal));
    }
}

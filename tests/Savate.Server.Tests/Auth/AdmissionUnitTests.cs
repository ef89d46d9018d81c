using System.Net;
using System.Text;
using Savate.Server.Auth;
using Savate.Server.Hls;
using Savate.Server.Http;
using Xunit;

namespace Savate.Server.Tests.Auth;

public sealed class AdmissionClientAddressTests
{
    private static readonly IReadOnlyList<IPNetwork> Trusted = [IPNetwork.Parse("10.0.0.0/8"), IPNetwork.Parse("127.0.0.1/32")];

    [Theory]
    // Not from a trusted proxy: the headers are ignored.
    [InlineData("192.0.2.1", "203.0.113.7", null, "192.0.2.1")]
    // The right-most address that is not a trusted proxy.
    [InlineData("10.0.0.1", "203.0.113.7", null, "203.0.113.7")]
    [InlineData("10.0.0.1", "198.51.100.1, 203.0.113.7, 10.0.0.2", null, "203.0.113.7")]
    [InlineData("10.0.0.1", "203.0.113.7:5555", null, "203.0.113.7")]
    [InlineData("10.0.0.1", "[2001:db8::7]:80", null, "2001:db8::7")]
    [InlineData("10.0.0.1", "2001:db8::7", null, "2001:db8::7")]
    // All trusted: the left-most. Garbage or "unknown": the last trusted hop.
    [InlineData("10.0.0.1", "10.0.0.3, 10.0.0.2", null, "10.0.0.3")]
    [InlineData("10.0.0.1", "203.0.113.7, unknown", null, "10.0.0.1")]
    [InlineData("10.0.0.1", "", null, "10.0.0.1")]
    // Forwarded (RFC 7239) wins over X-Forwarded-For.
    [InlineData("10.0.0.1", "198.51.100.1", "for=203.0.113.9;proto=https, for=10.0.0.5", "203.0.113.9")]
    [InlineData("10.0.0.1", null, "for=\"[2001:db8::1]:4711\"", "2001:db8::1")]
    [InlineData("10.0.0.1", null, "for=_hidden", "10.0.0.1")]
    [InlineData("::ffff:127.0.0.1", "203.0.113.7", null, "203.0.113.7")]
    public void Resolve_TakesTheRightMostUntrustedHop(string peer, string? forwardedFor, string? forwarded, string expected)
    {
        Assert.Equal(IPAddress.Parse(expected), ClientAddress.Resolve(IPAddress.Parse(peer), forwardedFor, forwarded, Trusted));
    }

    [Fact]
    public void Resolve_NoTrustedProxies_IsThePeer()
    {
        Assert.Equal(IPAddress.Parse("10.0.0.1"), ClientAddress.Resolve(IPAddress.Parse("10.0.0.1"), "203.0.113.7", null, []));
    }

    [Fact]
    public void Resolve_HugeChain_ReadsAtMostMaxHopsFromTheRight()
    {
        var chain = string.Join(", ", Enumerable.Repeat("10.0.0.9", 10_000));
        Assert.Equal(IPAddress.Parse("10.0.0.9"), ClientAddress.Resolve(IPAddress.Parse("10.0.0.1"), "203.0.113.7, " + chain, null, Trusted));
    }
}

public sealed class AdmissionHelpersTests
{
    [Theory]
    [InlineData("hdnts=abc", null, "abc")]
    [InlineData("a=1&__token__=x%7Ey", null, "x~y")]
    [InlineData("a=1", "theme=dark; hdnts=fromcookie", "fromcookie")]
    [InlineData(null, "__token__=c", "c")]
    [InlineData("hdntsx=1", "x=hdnts", null)]
    public void TokenOf_QueryThenCookie(string? query, string? cookie, string? expected)
    {
        Assert.Equal(expected, AccessControl.TokenOf(query, cookie));
    }

    [Fact]
    public void WithQuery_AppendsToUriLinesOnly()
    {
        var playlist = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.000,\nabc-1.ts\n#EXTINF:2.000,\nabc-2.ts\n";
        Assert.Equal("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.000,\nabc-1.ts?hdnts=t\n#EXTINF:2.000,\nabc-2.ts?hdnts=t\n", HlsEndpoints.WithQuery(playlist, "hdnts=t"));
    }

    [Theory]
    [InlineData("", null)]
    [InlineData("{}", null)]
    [InlineData("{\"duration\": 60}", 60.0)]
    [InlineData("{\"user\": {\"a\": [1, 2]}, \"duration\": 1.5}", 1.5)]
    [InlineData("{\"duration\": -1}", null)]
    [InlineData("{\"duration\": \"60\"}", null)]
    [InlineData("not json", null)]
    public void DurationOf_ReadsSecondsFromA2xxAnswer(string body, double? seconds)
    {
        Assert.Equal(seconds is { } s ? TimeSpan.FromSeconds(s) : null, AuthHook.DurationOf(Encoding.UTF8.GetBytes(body)));
    }

    [Theory]
    [InlineData(null, null, true)]
    [InlineData("https://example.com/a/b", null, true)]
    [InlineData(null, "https://example.com", true)]
    [InlineData("https://evil.example/", null, false)]
    [InlineData(null, "null", false)]
    [InlineData("https://example.com/", "https://evil.example", false)]
    public void RefererCheck_OriginsInTheListOrNoHeader(string? referer, string? origin, bool allowed)
    {
        Assert.Equal(allowed, RefererCheck.Allows(["https://example.com"], referer, origin));
    }
}

public sealed class AdmissionUserFileCacheTests
{
    [Fact]
    public void Get_FileEdited_NewContentsAfterTheRecheckDelay_BrokenEditKeepsTheLastGood()
    {
        var path = Path.Combine(Path.GetTempPath(), $"savate-cache-{Guid.NewGuid():N}.htpasswd");
        var time = new Savate.TestSupport.ManualTimeProvider();
        try
        {
            File.WriteAllText(path, $"alice:{BCrypt.Net.BCrypt.HashPassword("a", 4)}\n");
            var cache = new UserFileCache(time);
            Assert.True(cache.Get(path, out var error)!.Verify("alice", "a"));
            Assert.Null(error);

            File.WriteAllText(path, $"bob:{BCrypt.Net.BCrypt.HashPassword("b", 4)}\n# a longer file than before\n");
            Assert.False(cache.Get(path, out _)!.Verify("bob", "b"));
            time.Advance(UserFileCache.RecheckAfter);
            Assert.True(cache.Get(path, out _)!.Verify("bob", "b"));

            File.WriteAllText(path, "carol:plain-text-password\n");
            time.Advance(UserFileCache.RecheckAfter);
            var kept = cache.Get(path, out error);
            Assert.NotNull(error);
            Assert.DoesNotContain("plain-text-password", error, StringComparison.Ordinal);
            Assert.True(kept!.Verify("bob", "b"));
        }
        finally
        {
            File.Delete(path);
        }
    }
}

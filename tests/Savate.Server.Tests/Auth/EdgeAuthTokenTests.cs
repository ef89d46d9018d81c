using Savate.Server.Auth;
using Xunit;

namespace Savate.Server.Tests.Auth;

public sealed class EdgeAuthTokenTests
{
    private static readonly byte[] Key = Convert.FromHexString("0123456789abcdef0123456789abcdef");

    // Made by the EdgeAuth-Token-Python algorithm (hmac.new(a2b_hex(key), "st=..~exp=..~acl=..", sha256)),
    // so a token from the tools operators already use verifies here.
    private const string ReferenceToken =
        "st=1700000000~exp=1700003600~acl=/live.flv*~hmac=d04e6f12573bf642d378d6eee2f1c19d5049602c2e62ccdf7b608c4fc950a481";

    private static readonly DateTimeOffset Inside = DateTimeOffset.FromUnixTimeSeconds(1700001000);

    [Theory]
    [InlineData("/live.flv")]
    [InlineData("/live.flv/index.m3u8")]
    [InlineData("/live.flv/seg/abc/17.ts")]
    public void Verify_ReferenceToken_CoversMountAndItsHlsPaths(string path)
    {
        Assert.Equal(TokenVerdict.Valid, EdgeAuthToken.Verify(ReferenceToken, Key, path, Inside));
    }

    [Fact]
    public void Verify_EachFailure_HasItsOwnVerdict()
    {
        Assert.Equal(TokenVerdict.Missing, EdgeAuthToken.Verify(null, Key, "/live.flv", Inside));
        Assert.Equal(TokenVerdict.Missing, EdgeAuthToken.Verify("", Key, "/live.flv", Inside));
        Assert.Equal(TokenVerdict.Expired, EdgeAuthToken.Verify(ReferenceToken, Key, "/live.flv", DateTimeOffset.FromUnixTimeSeconds(1700003600)));
        Assert.Equal(TokenVerdict.NotYetValid, EdgeAuthToken.Verify(ReferenceToken, Key, "/live.flv", DateTimeOffset.FromUnixTimeSeconds(1699999999)));
        Assert.Equal(TokenVerdict.WrongAcl, EdgeAuthToken.Verify(ReferenceToken, Key, "/other.flv", Inside));
        Assert.Equal(TokenVerdict.Tampered, EdgeAuthToken.Verify(ReferenceToken.Replace("acl=/live.flv*", "acl=/*", StringComparison.Ordinal), Key, "/other.flv", Inside));
        Assert.Equal(TokenVerdict.Tampered, EdgeAuthToken.Verify(ReferenceToken.Replace("exp=1700003600", "exp=1900003600", StringComparison.Ordinal), Key, "/live.flv", Inside));
        Assert.Equal(TokenVerdict.Tampered, EdgeAuthToken.Verify(ReferenceToken, Convert.FromHexString("ffeeddccbbaa99887766554433221100"), "/live.flv", Inside));
        Assert.Equal(TokenVerdict.Malformed, EdgeAuthToken.Verify("exp=1700003600~acl=/live.flv*", Key, "/live.flv", Inside));
        Assert.Equal(TokenVerdict.Malformed, EdgeAuthToken.Verify("exp=1~acl=/x~hmac=zz", Key, "/x", Inside));
        Assert.Equal(TokenVerdict.Malformed, EdgeAuthToken.Verify(new string('a', EdgeAuthToken.MaxLength + 1), Key, "/x", Inside));
    }

    [Fact]
    public void Verify_SignedTokenWithoutExpiryOrWithBadNumber_IsMalformed()
    {
        var noExpiry = Sign("acl=/live.flv*");
        var badNumber = Sign("st=soon~exp=1700003600~acl=/live.flv*");
        Assert.Equal(TokenVerdict.Malformed, EdgeAuthToken.Verify(noExpiry, Key, "/live.flv", Inside));
        Assert.Equal(TokenVerdict.Malformed, EdgeAuthToken.Verify(badNumber, Key, "/live.flv", Inside));
    }

    [Fact]
    public void Create_WithoutStart_VerifiesAndCarriesNoStField()
    {
        var token = EdgeAuthToken.Create(Key, "/a.flv*!/b.ts*", null, Inside.AddHours(1));
        Assert.StartsWith("exp=", token, StringComparison.Ordinal);
        Assert.Equal(TokenVerdict.Valid, EdgeAuthToken.Verify(token, Key, "/b.ts", Inside));
        Assert.Equal(TokenVerdict.Valid, EdgeAuthToken.Verify(token, Key, "/a.flv", Inside));
        Assert.Equal(TokenVerdict.WrongAcl, EdgeAuthToken.Verify(token, Key, "/c.flv", Inside));
    }

    [Theory]
    [InlineData("/live.flv", "/live.flv", true)]
    [InlineData("/live.flv", "/live.flv2", false)]
    [InlineData("/live*", "/live.flv/x/y", true)]
    [InlineData("/*.flv", "/a/b.flv", true)]
    [InlineData("/*.flv", "/a/b.ts", false)]
    [InlineData("*", "/anything", true)]
    [InlineData("/a*b*c", "/aXXbYYc", true)]
    [InlineData("/a*b*c", "/aXXbYY", false)]
    public void AclCovers_WildcardPatterns(string acl, string path, bool covered)
    {
        Assert.Equal(covered, EdgeAuthToken.AclCovers(acl, path));
    }

    [Fact]
    public void AclCovers_ManyStarsAgainstLongPath_DoesNotMatch()
    {
        // Many stars against a long non-matching text: the single back-track point keeps this polynomial.
        var acl = string.Concat(Enumerable.Repeat("*a", 200)) + "b";
        var path = new string('a', 4000);
        Assert.False(EdgeAuthToken.AclCovers(acl, path));
    }

    private static string Sign(string fields)
    {
        var hmac = System.Security.Cryptography.HMACSHA256.HashData(Key, System.Text.Encoding.UTF8.GetBytes(fields));
        return fields + "~hmac=" + Convert.ToHexStringLower(hmac);
    }
}

public sealed class TokenCommandTests
{
    [Fact]
    public void Run_KeyAclTtl_PrintsTokenThatVerifiesUntilItsExpiry()
    {
        var clock = new Fakes.ManualTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
        var output = new StringWriter();
        var error = new StringWriter();

        var code = TokenCommand.Run(["--key", "0123456789abcdef0123456789abcdef", "--acl", "/live.flv*", "--ttl", "1h"], output, error, clock);

        Assert.Equal(0, code);
        var token = output.ToString().Trim();
        Assert.Equal("exp=1800003600~acl=/live.flv*", token[..token.IndexOf("~hmac=", StringComparison.Ordinal)]);
        var key = Convert.FromHexString("0123456789abcdef0123456789abcdef");
        Assert.Equal(TokenVerdict.Valid, EdgeAuthToken.Verify(token, key, "/live.flv/index.m3u8", clock.GetUtcNow()));
        Assert.Equal(TokenVerdict.Expired, EdgeAuthToken.Verify(token, key, "/live.flv", clock.GetUtcNow().AddHours(1)));
    }

    [Theory]
    [InlineData("--acl", "/x*")]
    [InlineData("--key", "zz", "--acl", "/x*")]
    [InlineData("--key", "00", "--acl", "/x*", "--ttl", "soon")]
    [InlineData("--key", "00", "--bogus")]
    public void Run_BadArguments_ExitsTwoWithAMessage(params string[] args)
    {
        var error = new StringWriter();
        Assert.Equal(2, TokenCommand.Run(args, TextWriter.Null, error));
        Assert.StartsWith("savate token", error.ToString(), StringComparison.Ordinal);
    }
}

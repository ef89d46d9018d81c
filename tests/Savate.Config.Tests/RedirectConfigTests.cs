using static Savate.Server.Configuration.Tests.ConfigTestHelpers;

namespace Savate.Server.Configuration.Tests;

/// <summary><c>server.redirect</c> and <c>master.public-url</c>.</summary>
public sealed class RedirectConfigTests
{
    [Theory]
    [InlineData("never", RedirectMode.Never)]
    [InlineData("when-full", RedirectMode.WhenFull)]
    [InlineData("Always", RedirectMode.Always)]
    public void Parse_Redirect_ReadsTheMode(string text, RedirectMode expected) =>
        Assert.Equal(expected, ConfigLoader.Parse($"server:\n  redirect: {text}\n", ".").Server.Redirect);

    [Fact]
    public void Parse_NoRedirect_DefaultsToNever() =>
        Assert.Equal(RedirectMode.Never, ConfigLoader.Parse("server:\n  max-listeners: 5\n", ".").Server.Redirect);

    [Fact]
    public void Parse_BadRedirect_ErrorNamesTheValues() =>
        Assert.Equal("server: redirect: \"sometimes\" is not a redirect mode (use never, when-full or always)", SingleError("server:\n  redirect: sometimes\n"));

    [Fact]
    public void Parse_PublicUrl_IsRead() =>
        Assert.Equal("http://slave-1.example:8000", ConfigLoader.Parse("master:\n  url: http://master:8000\n  public-url: http://slave-1.example:8000\n", ".").Master!.PublicUrl);

    [Theory]
    [InlineData("slave-1:8000", "is not an absolute http or https URL")]
    [InlineData("ftp://slave-1", "is not an absolute http or https URL")]
    [InlineData("http://slave-1:8000/?x=1", "must have no user, query or fragment")]
    [InlineData("http://u:p@slave-1:8000", "must have no user, query or fragment")]
    [InlineData("http://0.0.0.0:8000", "names no reachable host (listeners are sent there)")]
    public void Parse_BadPublicUrl_Error(string url, string expected) =>
        Assert.Equal($"master: public-url: \"{url}\" {expected} (e.g. public-url: http://slave-1.example:8000)",
            SingleError($"master:\n  url: http://master:8000\n  public-url: \"{url}\"\n"));

    [Fact]
    public void Diff_RedirectChanged_ShowsTheConfigNames()
    {
        var before = ConfigLoader.Parse("server:\n  redirect: never\n", ".");
        var after = ConfigLoader.Parse("server:\n  redirect: when-full\n", ".");

        Assert.Contains("redirect never -> when-full", ConfigKeys.Diff(ConfigKeys.Server, before.Server, after.Server));
    }
}

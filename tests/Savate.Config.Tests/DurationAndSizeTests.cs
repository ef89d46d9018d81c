namespace Savate.Server.Configuration.Tests;

public sealed class DurationAndSizeTests
{
    public static TheoryData<string, TimeSpan> ValidDurations => new()
    {
        { "0", TimeSpan.Zero },
        { "0s", TimeSpan.Zero },
        { "500ms", TimeSpan.FromMilliseconds(500) },
        { "5s", TimeSpan.FromSeconds(5) },
        { "1.5s", TimeSpan.FromMilliseconds(1500) },
        { "0.25ms", TimeSpan.FromTicks(2500) },
        { "2m", TimeSpan.FromMinutes(2) },
        { "1h", TimeSpan.FromHours(1) },
        { "1h30m", TimeSpan.FromMinutes(90) },
        { "1m30s", TimeSpan.FromSeconds(90) },
        { " 40ms ", TimeSpan.FromMilliseconds(40) },
        { "-1s", TimeSpan.FromSeconds(-1) },
    };

    [Theory]
    [MemberData(nameof(ValidDurations))]
    public void ParseDuration_Valid_ReturnsTimeSpan(string text, TimeSpan expected) =>
        Assert.Equal(expected, ConfigLoader.ParseDuration(text));

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    [InlineData("5")]
    [InlineData("5x")]
    [InlineData("s")]
    [InlineData("5 s")]
    [InlineData("5S")]
    [InlineData("1.2.3s")]
    [InlineData("5sec")]
    [InlineData("1d")]
    [InlineData("-")]
    [InlineData("1e3s")]
    [InlineData("99999999999999999999999999999h")]
    public void ParseDuration_Invalid_ThrowsFormatException(string text) =>
        Assert.Throws<FormatException>(() => ConfigLoader.ParseDuration(text));

    [Theory]
    [InlineData("0", 0L)]
    [InlineData("65536", 65536L)]
    [InlineData("100B", 100L)]
    [InlineData("64k", 64L * 1024)]
    [InlineData("64K", 64L * 1024)]
    [InlineData("64Ki", 64L * 1024)]
    [InlineData("64KiB", 64L * 1024)]
    [InlineData("64 KiB", 64L * 1024)]
    [InlineData("1.5KiB", 1536L)]
    [InlineData("32M", 32L * 1024 * 1024)]
    [InlineData("32MiB", 32L * 1024 * 1024)]
    [InlineData("2G", 2L * 1024 * 1024 * 1024)]
    [InlineData("2GiB", 2L * 1024 * 1024 * 1024)]
    [InlineData("64kB", 64_000L)]
    [InlineData("64KB", 64_000L)]
    [InlineData("32MB", 32_000_000L)]
    [InlineData("2GB", 2_000_000_000L)]
    public void ParseSize_Valid_ReturnsBytes(string text, long expected) =>
        Assert.Equal(expected, ConfigLoader.ParseSize(text));

    [Theory]
    [InlineData("")]
    [InlineData("KiB")]
    [InlineData("-1")]
    [InlineData("64x")]
    [InlineData("64kib")]
    [InlineData("64TB")]
    [InlineData("1.5")]
    [InlineData("0.1KiB")]
    [InlineData("1.2.3K")]
    [InlineData("99999999999999999999G")]
    [InlineData("999999999999999999999999999999")]
    public void ParseSize_Invalid_ThrowsFormatException(string text) =>
        Assert.Throws<FormatException>(() => ConfigLoader.ParseSize(text));

    [Fact]
    public void Parse_InvalidDuration_ErrorNamesMountKeyAndFix()
    {
        var error = ConfigTestHelpers.SingleError("mounts:\n  - path: /a.flv\n  - path: /live.flv\n    max-lag: 5x\n");

        Assert.Equal("mounts[1] (/live.flv): max-lag: \"5x\" is not a duration (use 500ms, 5s, 2m)", error);
    }

    [Fact]
    public void Parse_DurationWithoutUnit_SuggestsAddingOne()
    {
        var error = ConfigTestHelpers.SingleError("server:\n  source-timeout: 10\n");

        Assert.Equal("server: source-timeout: \"10\" is not a duration (add a unit: 10s or 10ms)", error);
    }

    [Fact]
    public void Parse_InvalidSize_ErrorNamesMountKeyAndFix()
    {
        var error = ConfigTestHelpers.SingleError("mounts:\n  - path: /a.flv\n    buffer-bytes: lots\n");

        Assert.Equal("mounts[0] (/a.flv): buffer-bytes: \"lots\" is not a size (use 65536, 64KiB, 32MiB)", error);
    }

    [Theory]
    [InlineData("max-listeners: many", "server: max-listeners: \"many\" is not an integer")]
    [InlineData("dynamic-mounts: maybe", "server: dynamic-mounts: \"maybe\" is not a boolean (use true or false)")]
    [InlineData("listener-send-buffer: 4GiB", "server: listener-send-buffer: 4294967296 bytes is too large (at most 2147483647)")]
    [InlineData("listen: {a: b}", "server: listen: expected a string or a list of strings, got a mapping (line 2)")]
    public void Parse_InvalidServerValue_ErrorNamesKey(string line, string expected) =>
        Assert.Equal(expected, ConfigTestHelpers.SingleError($"server:\n  {line}\n"));

    [Fact]
    public void Parse_InvalidFormat_ErrorListsChoices()
    {
        var error = ConfigTestHelpers.SingleError("mounts:\n  - path: /a.mp4\n    format: mp4\n");

        Assert.Equal("mounts[0] (/a.mp4): format: \"mp4\" is not a format (use auto, flv or mpegts)", error);
    }
}

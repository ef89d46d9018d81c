namespace Savate.Server.Configuration.Tests;

public sealed class MetricsConfigTests
{
    [Fact]
    public void Parse_MetricsSection_IsMapped()
    {
        var config = ConfigLoader.Parse("metrics:\n  otlp-endpoint: http://collector:4318\n  otlp-interval: 5s\n", Path.GetTempPath());
        Assert.Equal("http://collector:4318", config.Metrics.OtlpEndpoint);
        Assert.Equal(TimeSpan.FromSeconds(5), config.Metrics.OtlpInterval);
    }

    [Fact]
    public void Parse_NoMetricsSection_NoPushAndDefaultInterval()
    {
        var config = ConfigLoader.Parse("mounts:\n  - path: /a.flv\n", Path.GetTempPath());
        Assert.Null(config.Metrics.OtlpEndpoint);
        Assert.Equal(TimeSpan.FromSeconds(15), config.Metrics.OtlpInterval);
    }

    [Theory]
    [InlineData("metrics:\n  otlp-endpoint: collector:4318\n", "metrics: otlp-endpoint must be an absolute http(s) URL such as http://collector:4318, got 'collector:4318'")]
    [InlineData("metrics:\n  otlp-endpoint: ftp://collector\n", "metrics: otlp-endpoint must be an absolute http(s) URL such as http://collector:4318, got 'ftp://collector'")]
    public void Parse_BadOtlpEndpoint_IsRejectedWithTheFix(string yaml, string expected) =>
        Assert.Equal(expected, ConfigTestHelpers.SingleError(yaml));

    [Fact]
    public void Parse_UnknownMetricsKey_IsRejected() =>
        Assert.StartsWith("metrics: ", ConfigTestHelpers.SingleError("metrics:\n  otlp-endpiont: http://c:4318\n"));
}

using System.Net;
using System.Text;
using Savate.Server.Tests.Infrastructure;
using Xunit;

namespace Savate.Server.Tests.Functional;

/// <summary>metrics.otlp-endpoint: the server pushes OTLP/HTTP protobuf to a collector (here a bare HTTP listener).</summary>
[Collection(nameof(MetricsTests))]
public sealed class OtlpPushTests
{
    [Fact]
    public async Task OtlpEndpoint_Set_PushesSavateMetricsToTheCollector()
    {
        var port = TestServer.FreePort();
        using var collector = new HttpListener();
        collector.Prefixes.Add($"http://127.0.0.1:{port}/");
        collector.Start();
        await using var server = await TestServer.StartAsync($"""
            mounts:
              - path: /otlp.flv
                format: flv
            metrics:
              otlp-endpoint: http://127.0.0.1:{port}
              otlp-interval: 500ms
            """);

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            var context = await collector.GetContextAsync().WaitAsync(cts.Token);
            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body, cts.Token);
            var request = (context.Request.HttpMethod, context.Request.Url!.AbsolutePath, context.Request.ContentType);
            context.Response.StatusCode = 200;
            context.Response.Close();
            var text = Encoding.UTF8.GetString(body.ToArray());
            // Protobuf keeps strings as UTF-8: the instrument names and the mount attribute are readable.
            if (text.Contains("savate.mount.listeners", StringComparison.Ordinal))
            {
                Assert.Equal(("POST", "/v1/metrics", "application/x-protobuf"), request);
                Assert.Contains("/otlp.flv", text);
                return;
            }
        }
    }
}

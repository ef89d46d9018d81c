using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Savate.Server.Configuration;
using Savate.Server.Hosting;
using Savate.Server.Streaming;

namespace Savate.Server.Tests.Infrastructure;

/// <summary>The real server (Kestrel, the real pipeline) on a loopback port chosen by the OS.</summary>
public sealed class TestServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestServer(WebApplication app, Uri baseUri)
    {
        _app = app;
        BaseUri = baseUri;
    }

    public Uri BaseUri { get; }

    public int Port => BaseUri.Port;

    internal MountRegistry Registry => _app.Services.GetRequiredService<MountRegistry>();

    internal T GetService<T>() where T : notnull => _app.Services.GetRequiredService<T>();

    public LogCapture Logs { get; } = new();

    public static async Task<TestServer> StartAsync(string yaml, int port = 0)
    {
        var config = ConfigLoader.Parse(yaml, AppContext.BaseDirectory);
        return await StartAsync(config, port);
    }

    /// <summary>A loopback port free right now (for a server that must come back on the same port).</summary>
    public static int FreePort()
    {
        using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        return ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
    }

    public static async Task<TestServer> StartAsync(SavateConfig config, int port = 0)
    {
        var logs = new LogCapture();
        var app = SavateApp.Build(config, ["--urls", $"http://127.0.0.1:{port}"], builder =>
        {
            builder.Logging.ClearProviders();
            builder.Logging.AddProvider(logs);
            builder.Logging.SetMinimumLevel(LogLevel.Information);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var server = new TestServer(app, new Uri(address));
        server.Logs.Attach(logs);
        return server;
    }

    public Uri Url(string path) => new(BaseUri, path);

    public string SourceUrl(string path, string password = "change-me") =>
        $"http://source:{password}@127.0.0.1:{Port}{path}";

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _app.StopAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
        }
        await _app.DisposeAsync();
    }
}

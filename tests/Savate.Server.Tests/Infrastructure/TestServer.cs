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

    internal Savate.Server.Http.ConnectionGate Gate => _app.Services.GetRequiredService<Savate.Server.Http.ConnectionGate>();
    public IServiceProvider Services => _app.Services;

    /// <summary>The reload the admin API, SIGHUP and the file watch call.</summary>
    public IConfigReloader Reloader => _app.Services.GetRequiredService<IConfigReloader>();

    internal Relaying.RelayService Relays => _app.Services.GetRequiredService<Relaying.RelayService>();

    internal T GetService<T>() where T : notnull => _app.Services.GetRequiredService<T>();

    public LogCapture Logs { get; } = new();

    public static async Task<TestServer> StartAsync(string yaml, int port = 0, Action<WebApplicationBuilder>? configure = null)
    {
        var config = ConfigLoader.Parse(yaml, AppContext.BaseDirectory);
        return await StartAsync(config, port, configure);
    }

    /// <summary>A loopback port free right now (for a server that must come back on the same port).</summary>
    public static int FreePort()
    {
        using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        return ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
    }

    /// <summary>Starts from a config file, as savate does: reloads read that file again.</summary>
    public static Task<TestServer> StartFromFileAsync(string configPath, int port = 0) =>
        StartAsync(ConfigLoader.Load(configPath), port, configPath: configPath);

    /// <param name="config">The config.</param>
    /// <param name="port">0: a free port.</param>
    /// <param name="configure">Runs on the host builder last: tests register fakes here (an <c>IConfigReloader</c>, ...).</param>
    /// <param name="configPath">The file reloads read (none: reloads have no file).</param>
    public static async Task<TestServer> StartAsync(SavateConfig config, int port = 0, Action<WebApplicationBuilder>? configure = null, string? configPath = null)
    {
        var logs = new LogCapture();
        var app = SavateApp.Build(config, ["--urls", $"http://127.0.0.1:{port}"], builder =>
        {
            builder.Logging.ClearProviders();
            builder.Logging.AddProvider(logs);
            builder.Logging.SetMinimumLevel(LogLevel.Information);
            configure?.Invoke(builder);
        }, configPath);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var server = new TestServer(app, new Uri(address));
        server.Logs.Attach(logs);
        return server;
    }

    /// <summary>
    /// Starts on the config's own <c>server.listen</c> URLs (no <c>--urls</c>), as savate does: for https:// endpoints. Give
    /// port 0 in each URL. <see cref="BaseUri"/> is the first http:// one, <see cref="HttpsUri"/> the first https:// one.
    /// </summary>
    public static async Task<TestServer> StartOnListenUrlsAsync(SavateConfig config, string? configPath = null)
    {
        var logs = new LogCapture();
        var app = SavateApp.Build(config, [], builder =>
        {
            builder.Logging.ClearProviders();
            builder.Logging.AddProvider(logs);
            builder.Logging.SetMinimumLevel(LogLevel.Information);
        }, configPath);
        await app.StartAsync();
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        var server = new TestServer(app, new Uri(addresses.First(a => a.StartsWith("http://", StringComparison.Ordinal))))
        {
            HttpsUri = addresses.FirstOrDefault(a => a.StartsWith("https://", StringComparison.Ordinal)) is { } https ? new Uri(https) : null,
        };
        server.Logs.Attach(logs);
        return server;
    }

    /// <summary>The https:// endpoint, when started by <see cref="StartOnListenUrlsAsync"/> with one.</summary>
    public Uri? HttpsUri { get; private init; }

    public Uri HttpsUrl(string path) => new(HttpsUri ?? throw new InvalidOperationException("no https:// endpoint"), path);

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

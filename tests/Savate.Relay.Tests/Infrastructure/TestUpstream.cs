using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Savate.Relay.Tests.Infrastructure;

/// <summary>A tiny real HTTP upstream on loopback whose behaviour each test sets.</summary>
public sealed class TestUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _requests;
    private int _active;

    private TestUpstream(WebApplication app, Func<HttpContext, Task> handler)
    {
        _app = app;
        Handler = handler;
    }

    public Func<HttpContext, Task> Handler { get; set; }

    public Uri Url { get; private set; } = null!;

    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Requests whose handler is still running (an open upstream connection).</summary>
    public int Active => Volatile.Read(ref _active);

    public ConcurrentQueue<DateTimeOffset> RequestTimes { get; } = new();

    public ConcurrentQueue<string?> AuthorizationHeaders { get; } = new();

    public ConcurrentQueue<string> Paths { get; } = new();

    public static async Task<TestUpstream> StartAsync(Func<HttpContext, Task> handler)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var upstream = new TestUpstream(app, handler);
        app.Run(upstream.HandleAsync);
        await app.StartAsync();
        upstream.Url = new Uri(app.Urls.First());
        return upstream;
    }

    /// <summary>A URL on which nothing listens: connections are refused.</summary>
    public static Uri RefusingUrl()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return new Uri($"http://127.0.0.1:{port}/live.flv");
    }

    /// <summary>Serves 1 KiB every 10 ms, for ever or for <paramref name="duration"/>.</summary>
    public static Func<HttpContext, Task> Stream(string contentType = "video/x-flv", TimeSpan? duration = null) => async context =>
    {
        context.Response.ContentType = contentType;
        var chunk = new byte[1024];
        chunk.AsSpan().Fill((byte)'F');
        var started = DateTime.UtcNow;
        try
        {
            while (duration is null || DateTime.UtcNow - started < duration)
            {
                await context.Response.Body.WriteAsync(chunk, context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
                await Task.Delay(10, context.RequestAborted);
            }
        }
        catch (OperationCanceledException)
        {
        }
    };

    /// <summary>Sends some bytes, then stalls with the connection open.</summary>
    public static Func<HttpContext, Task> Stall() => async context =>
    {
        context.Response.ContentType = "video/mp2t";
        await context.Response.Body.WriteAsync(new byte[188], context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
        try
        {
            await Task.Delay(Timeout.Infinite, context.RequestAborted);
        }
        catch (OperationCanceledException)
        {
        }
    };

    public static Func<HttpContext, Task> Status(int code) => context =>
    {
        context.Response.StatusCode = code;
        return Task.CompletedTask;
    };

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        Interlocked.Increment(ref _requests);
        Interlocked.Increment(ref _active);
        RequestTimes.Enqueue(DateTimeOffset.UtcNow);
        AuthorizationHeaders.Enqueue(context.Request.Headers.Authorization.ToString() is { Length: > 0 } auth ? auth : null);
        Paths.Enqueue(context.Request.Path.Value ?? string.Empty);
        try
        {
            await Handler(context);
        }
        finally
        {
            Interlocked.Decrement(ref _active);
        }
    }
}

using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Savate.Server.Tests.Infrastructure;

/// <summary>What a hook answers: a status, a body, after a delay.</summary>
public sealed record HookReply(int Status, string Body = "", TimeSpan Delay = default);

/// <summary>
/// An auth server on a loopback port, as an operator would run one for <c>hook:</c>: Kestrel, answering each POST with
/// what <see cref="Answer"/> returns for its JSON body, and remembering every body it was sent.
/// </summary>
public sealed class HookServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private HookServer(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    /// <summary>The hook's URL (<c>http://127.0.0.1:PORT/hook</c>).</summary>
    public string Url { get; }

    /// <summary>The JSON bodies received, in order.</summary>
    public ConcurrentQueue<JsonElement> Calls { get; } = new();

    /// <summary>Decides the answer to one call from its body; allow (204) by default.</summary>
    public Func<JsonElement, HookReply> Answer { get; set; } = _ => new HookReply(204);

    public static async Task<HookServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        HookServer? self = null;
        app.Run(async context =>
        {
            using var body = await JsonDocument.ParseAsync(context.Request.Body);
            var call = body.RootElement.Clone();
            self!.Calls.Enqueue(call);
            var reply = self.Answer(call);
            if (reply.Delay > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(reply.Delay, context.RequestAborted);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
            context.Response.StatusCode = reply.Status;
            if (reply.Body.Length > 0)
            {
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync(reply.Body);
            }
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        self = new HookServer(app, address + "/hook");
        return self;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

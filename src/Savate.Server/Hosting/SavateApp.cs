using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Savate.Server.Configuration;
using Savate.Server.Http;
using Savate.Server.Streaming;

namespace Savate.Server.Hosting;

/// <summary>Builds the Kestrel host around a configuration: used by Program and by the functional tests.</summary>
public static class SavateApp
{
    public static WebApplication Build(SavateConfig config, string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args });
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]))
        {
            builder.WebHost.UseUrls([.. config.Server.Listen]);
        }
        builder.Services.AddSingleton(config);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(sp => new MountRegistry(config, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILoggerFactory>()));
        builder.Services.AddSingleton<RawSourceMiddleware>();
        builder.Services.AddSingleton<SourceRefusals>();
        // Listeners are served at accept time, before Kestrel builds a connection (Http/FrontDoor.cs).
        builder.Services.AddSingleton<IConnectionListenerFactory, FrontDoorTransportFactory>();
        builder.Services.AddHostedService<LagMonitor>();
        builder.Services.AddSingleton<Relaying.RelayHost>();
        builder.Services.AddSingleton<Relaying.RelayService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<Relaying.RelayService>());
        builder.WebHost.ConfigureKestrel(options =>
        {
            options.AddServerHeader = false;
            options.Limits.MinResponseDataRate = null;
            options.Limits.MaxConcurrentConnections = null;
            options.Limits.MaxConcurrentUpgradedConnections = null;
            options.ConfigureEndpointDefaults(listen =>
            {
                listen.Protocols = HttpProtocols.Http1;
                var raw = options.ApplicationServices.GetRequiredService<RawSourceMiddleware>();
                listen.Use(next => connection => raw.OnConnectionAsync(connection, next));
            });
        });
        configure?.Invoke(builder);

        var app = builder.Build();
        var registry = app.Services.GetRequiredService<MountRegistry>();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Savate.Sources");
        app.Lifetime.ApplicationStopping.Register(registry.Dispose);
        var relays = app.Services.GetRequiredService<Relaying.RelayService>();
        app.Run(context => Dispatch(context, registry, relays, logger));
        return app;
    }

    private static Task Dispatch(HttpContext context, MountRegistry registry, Relaying.RelayService relays, ILogger logger)
    {
        var path = context.Request.Path.Value ?? "/";
        var method = context.Request.Method;
        if (path == "/status.json" && (HttpMethods.IsGet(method) || HttpMethods.IsHead(method)))
        {
            return StatusHandler.WriteAsync(context, registry, relays.Statuses);
        }
        if (path == "/admin/streamlist.txt" && HttpMethods.IsGet(method))
        {
            return StreamListHandler.WriteAsync(context, registry);
        }
        if (HttpMethods.IsPut(method) || HttpMethods.IsPost(method) || method == "SOURCE")
        {
            return HandleSourceAsync(context, registry, logger, path);
        }
        if (HttpMethods.IsGet(method) || HttpMethods.IsHead(method))
        {
            var mount = MountPaths.FindListenable(registry, path);
            return mount is null
                ? HttpResponses.WritePlainAsync(context, 404, $"No mount {path}")
                : ListenerHandler.HandleAsync(context, registry, mount);
        }
        if (HttpMethods.IsOptions(method))
        {
            context.Response.StatusCode = 204;
            context.Response.Headers.AccessControlAllowOrigin = "*";
            context.Response.Headers.AccessControlAllowMethods = "GET, HEAD, OPTIONS";
            context.Response.Headers.AccessControlAllowHeaders = "Range, Authorization";
            return Task.CompletedTask;
        }
        context.Response.Headers.Allow = "GET, HEAD, PUT, POST, SOURCE, OPTIONS";
        return HttpResponses.WritePlainAsync(context, 405, $"{method} is not allowed here");
    }

    private static async Task HandleSourceAsync(HttpContext context, MountRegistry registry, ILogger logger, string path)
    {
        var remote = ListenerHandler.RemoteOf(context);
        var admission = SourceAdmission.Admit(registry, path, context.Request.Headers.Authorization,
            context.Request.ContentType, remote, context.Request.Headers.UserAgent,
            context.Request.Headers.Expect.ToString().Equals("100-continue", StringComparison.OrdinalIgnoreCase));
        var transport = new KestrelSourceTransport(context);
        if (!admission.IsAccepted)
        {
            await context.RequestServices.GetRequiredService<SourceRefusals>().RefuseAsync(transport, admission, path, remote, context.Request.Headers.Authorization).ConfigureAwait(false);
            return;
        }
        await SourceRunner.RunAsync(admission, transport, logger).ConfigureAwait(false);
    }
}

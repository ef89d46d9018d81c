using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Savate.Server.Configuration;
using Savate.Server.Hls;
using Savate.Server.Http;
using Savate.Server.Streaming;

namespace Savate.Server.Hosting;

/// <summary>Builds the Kestrel host around a configuration: used by Program and by the functional tests.</summary>
public static class SavateApp
{
    /// <param name="config">The validated configuration.</param>
    /// <param name="args">Host arguments (<c>--urls</c>).</param>
    /// <param name="configure">Changes to the builder (tests: logging).</param>
    /// <param name="configPath">The file <paramref name="config"/> was read from: reloads (SIGHUP, file watch, admin API) read it again.</param>
    public static WebApplication Build(SavateConfig config, string[] args, Action<WebApplicationBuilder>? configure = null, string? configPath = null)
    {
        // One rule for line ends, whoever parses the head: the connection middleware refuses a bare LF (Http/RequestHead.cs),
        // and so does Kestrel for the next requests of a kept-alive connection (it accepts them by default).
        AppContext.SetSwitch("Microsoft.AspNetCore.Server.Kestrel.DisableHttp1LineFeedTerminators", true);
        // --urls is taken out of the host's arguments: the endpoints are configured from it (Hosting/ListenEndpoints.cs), and
        // Kestrel, also given it, would warn that it overrides it. (ASPNETCORE_URLS is honoured the same way, with that warning.)
        var commandLineUrls = TakeUrls(ref args);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args });
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        // Each listen URL is configured as an endpoint of its own (Hosting/ListenEndpoints.cs); --urls, when given, replaces
        // server.listen, and Kestrel's own URL binding is left empty.
        var urls = ListenEndpoints.Resolve(commandLineUrls ?? (builder.Configuration["urls"] is { Length: > 0 } hosting ? hosting : builder.Configuration["ASPNETCORE_URLS"]), config.Server);
        if (ListenEndpoints.Check(urls, config.Server) is { } tlsError)
        {
            throw new InvalidDataException(tlsError);
        }
        builder.WebHost.UseSetting(WebHostDefaults.ServerUrlsKey, string.Empty);
        builder.Services.AddSingleton(config);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(sp => new MountRegistry(config, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILoggerFactory>()));
        builder.Services.AddSingleton<ConnectionGate>();
        builder.Services.AddSingleton<AddressLimits>();
        builder.Services.AddSingleton<TlsCertificates>();
        builder.Services.AddSingleton<RawSourceMiddleware>();
        builder.Services.AddSingleton<SourceRefusals>();
        builder.Services.AddSingleton<Auth.AccessControl>();
        // Listeners are served at accept time, before Kestrel builds a connection (Http/FrontDoor.cs).
        builder.Services.AddSingleton<IConnectionListenerFactory, FrontDoorTransportFactory>();
        builder.Services.AddHostedService<LagMonitor>();
        builder.Services.AddHostedService<MemoryTrimmer>();
        builder.Services.AddSingleton<Relaying.RelayHost>();
        builder.Services.AddSingleton<Relaying.RelayService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<Relaying.RelayService>());
        builder.Services.AddHls();
        // Config reloads (Hosting/ConfigReloader.cs): SIGHUP and the file watch here, the admin API through IConfigReloader.
        builder.Services.AddSingleton(new ConfigSource(configPath));
        builder.Services.AddSingleton<IConfigReloader, ConfigReloader>();
        builder.Services.AddHostedService<ConfigWatcher>();
        Operations.AddOperations(builder, config);
        builder.WebHost.ConfigureKestrel(options =>
        {
            options.AddServerHeader = false;
            options.Limits.MinResponseDataRate = null;
            options.Limits.MaxConcurrentConnections = null;
            options.Limits.MaxConcurrentUpgradedConnections = null;
            // The first head of a connection is read by RawSourceMiddleware under these same limits (Http/ConnectionGate.cs);
            // these are for the next requests of a kept-alive connection, which Kestrel reads itself.
            options.Limits.RequestHeadersTimeout = config.Server.RequestHeadTimeout;
            options.Limits.MaxRequestLineSize = RequestHeadLimits.MaxRequestLine;
            options.Limits.MaxRequestHeadersTotalSize = RequestHeadLimits.MaxHead;
            options.Limits.MaxRequestHeaderCount = RequestHeadLimits.MaxHeaders;
            ListenEndpoints.Configure(options, urls, config.Server);
        });
        configure?.Invoke(builder);

        var app = builder.Build();
        var registry = app.Services.GetRequiredService<MountRegistry>();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Savate.Sources");
        app.Lifetime.ApplicationStopping.Register(() =>
        {
            // Sources first: a source body still streaming in would hold Kestrel's stop until its shutdown timeout (30 s).
            registry.KickSources();
            registry.Dispose();
        });
        var relays = app.Services.GetRequiredService<Relaying.RelayService>();
        var access = app.Services.GetRequiredService<Auth.AccessControl>();
        // First: everything after it (the access log, the admin API, listeners, sources) sees the forwarded client.
        app.Use((context, next) => AccessRequests.UseForwardedClient(context, next, registry));
        Operations.UseOperations(app);
        // Per-address caps (429) for every Kestrel request from here on (HLS, status, admin, streams over TLS); /metrics is not counted.
        var limits = app.Services.GetRequiredService<AddressLimits>();
        app.Use((context, next) => limits.InvokeAsync(context, next));
        app.UseHls();
        var admin = app.Services.GetRequiredService<Admin.AdminApi>();
        app.Run(context => Dispatch(context, registry, relays, admin, access, logger));
        return app;
    }

    /// <summary>Removes <c>--urls VALUE</c> (or <c>--urls=VALUE</c>) from the arguments; returns the value, the last one if repeated.</summary>
    private static string? TakeUrls(ref string[] args)
    {
        string? urls = null;
        var rest = new List<string>(args.Length);
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--urls" && i + 1 < args.Length)
            {
                urls = args[++i];
            }
            else if (args[i].StartsWith("--urls=", StringComparison.Ordinal))
            {
                urls = args[i]["--urls=".Length..];
            }
            else
            {
                rest.Add(args[i]);
            }
        }
        args = [.. rest];
        return urls;
    }

    private static Task Dispatch(HttpContext context, MountRegistry registry, Relaying.RelayService relays, Admin.AdminApi admin, Auth.AccessControl access, ILogger logger)
    {
        var method = context.Request.Method;
        // The one normalisation of paths (Http/MountPaths.cs), on the target as sent: Kestrel's own would resolve
        // dot segments and keep '//' and ';', so two spellings could name one mount and one spelling two.
        var target = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? context.Request.Path.Value ?? "/";
        if (!RequestPath.TryNormalize(target, out var path, out var pathError))
        {
            return target == "*" && HttpMethods.IsOptions(method)
                ? Options(context)
                : HttpResponses.WritePlainAsync(context, 400, $"Bad path {target}: {pathError}");
        }
        if (Admin.AdminApi.Handles(path))
        {
            return admin.HandleAsync(context);
        }
        if (StatusPage.StatusPageHandler.Handles(path) && (HttpMethods.IsGet(method) || HttpMethods.IsHead(method)))
        {
            return StatusPage.StatusPageHandler.WriteAsync(context);
        }
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
            return HandleSourceAsync(context, registry, access, logger, path);
        }
        if (HttpMethods.IsGet(method) || HttpMethods.IsHead(method))
        {
            var mount = MountPaths.FindListenable(registry, path);
            return mount is null
                ? HttpResponses.WritePlainAsync(context, 404, $"No mount {path}")
                : ListenerHandler.HandleAsync(context, registry, mount, access, path);
        }
        if (HttpMethods.IsOptions(method))
        {
            return Options(context);
        }
        context.Response.Headers.Allow = "GET, HEAD, PUT, POST, SOURCE, OPTIONS";
        return HttpResponses.WritePlainAsync(context, 405, $"{method} is not allowed here");
    }

    private static Task Options(HttpContext context)
    {
        context.Response.StatusCode = 204;
        context.Response.Headers.AccessControlAllowOrigin = "*";
        context.Response.Headers.AccessControlAllowMethods = "GET, HEAD, OPTIONS";
        context.Response.Headers.AccessControlAllowHeaders = "Range, Authorization";
        return Task.CompletedTask;
    }

    private static async Task HandleSourceAsync(HttpContext context, MountRegistry registry, Auth.AccessControl access, ILogger logger, string path)
    {
        var request = AccessRequests.FromContext(context, path);
        var remote = request.Remote;
        // Per-address caps first (403): a source over them claims no mount and asks no hook.
        using var lease = context.RequestServices.GetRequiredService<AddressLimits>().TryAcquire(AddressLimits.KeyFor(context), what: null, out var limited);
        Admission admission;
        try
        {
            admission = lease is null ? Admission.Refuse(403, limited) : await SourceAdmission.AdmitAsync(registry, access, request, context.Request.ContentType,
                context.Request.Headers.Expect.ToString().Equals("100-continue", StringComparison.OrdinalIgnoreCase), context.RequestAborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // Gone while a hook was asked.
            return;
        }
        var transport = new KestrelSourceTransport(context);
        if (!admission.IsAccepted)
        {
            await context.RequestServices.GetRequiredService<SourceRefusals>().RefuseAsync(transport, admission, path, remote, context.Request.Headers.Authorization).ConfigureAwait(false);
            return;
        }
        await SourceRunner.RunAsync(admission, transport, logger).ConfigureAwait(false);
    }
}

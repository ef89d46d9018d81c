using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using Savate.Server.AccessLog;
using Savate.Server.Admin;
using Savate.Server.Configuration;
using Savate.Server.Metrics;
using Savate.Server.Streaming;

namespace Savate.Server.Hosting;

/// <summary>
/// What running Savate as a service takes, wired in one place: systemd integration (Type=notify, journal
/// logs), the admin API, metrics (OpenTelemetry, Prometheus scrape at /metrics, OTLP push), the access log.
/// </summary>
internal static class Operations
{
    public static void AddOperations(WebApplicationBuilder builder, SavateConfig config)
    {
        // Type=notify: READY=1 once Kestrel listens, STOPPING=1 on SIGTERM; a no-op outside systemd.
        builder.Services.AddSystemd();
        builder.Services.AddSingleton<AdminApi>();
        builder.Services.AddSingleton<SavateMetrics>();
        builder.Services.AddOpenTelemetry().WithMetrics(metrics =>
        {
            metrics.AddMeter(SavateMetrics.MeterName)
                .AddRuntimeInstrumentation()
                .AddProcessInstrumentation()
                // Prometheus reserves *_count for histograms and summaries (promtool check metrics rejects the
                // rest): the runtime and process gauges named *.count are exposed under plural names.
                .AddView("dotnet.assembly.count", new MetricStreamConfiguration { Name = "dotnet.assemblies.loaded" })
                .AddView("dotnet.process.cpu.count", new MetricStreamConfiguration { Name = "dotnet.process.cpus" })
                .AddView("dotnet.timer.count", new MetricStreamConfiguration { Name = "dotnet.timers" })
                .AddView("process.thread.count", new MetricStreamConfiguration { Name = "process.threads" })
                .AddView("process.unix.file_descriptor.count", new MetricStreamConfiguration { Name = "process.unix.file_descriptors" })
                .AddPrometheusExporter();
            if (config.Metrics.OtlpEndpoint is { } endpoint)
            {
                metrics.AddOtlpExporter((exporter, reader) =>
                {
                    exporter.Protocol = OtlpExportProtocol.HttpProtobuf;
                    exporter.Endpoint = new Uri(endpoint.TrimEnd('/') + "/v1/metrics");
                    reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = (int)config.Metrics.OtlpInterval.TotalMilliseconds;
                });
            }
        });
        if (config.Server.AccessLog is { } accessLog)
        {
            var path = accessLog == "-" ? "-" : Path.GetFullPath(accessLog, Path.GetFullPath(config.BaseDirectory));
            builder.Services.AddSingleton(sp => new AccessLogWriter(path, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<AccessLogWriter>>()));
            builder.Services.AddHostedService(sp => sp.GetRequiredService<AccessLogWriter>());
        }
    }

    public static void UseOperations(WebApplication app)
    {
        // The instruments exist once the class is built.
        app.Services.GetRequiredService<SavateMetrics>();
        if (app.Services.GetService<AccessLogWriter>() is { } log)
        {
            app.Services.GetRequiredService<MountRegistry>().AccessLog = log;
            var time = app.Services.GetRequiredService<TimeProvider>();
            app.Use((context, next) => AccessLogMiddleware.InvokeAsync(context, next, log, time));
        }
        // Exactly GET or HEAD /metrics: paths are case-sensitive here (Http/RequestPath.cs), and the exporter's own match
        // is not, so a PUT /METRICS would otherwise get a scrape instead of the 404 every look-alike path gets.
        app.UseOpenTelemetryPrometheusScrapingEndpoint(static context =>
            string.Equals(context.Request.Path.Value, "/metrics", StringComparison.Ordinal)
            && (HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method)));
    }
}

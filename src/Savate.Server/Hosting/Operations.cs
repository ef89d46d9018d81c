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
                // One view for every instrument (two views matching one instrument would make two streams).
                .AddView(static instrument => new MetricStreamConfiguration
                {
                    // Prometheus reserves *_count for histograms and summaries (promtool check metrics rejects the
                    // rest): the runtime and process gauges named *.count are exposed under plural names.
                    Name = instrument.Name switch
                    {
                        "dotnet.assembly.count" => "dotnet.assemblies.loaded",
                        "dotnet.process.cpu.count" => "dotnet.process.cpus",
                        "dotnet.timer.count" => "dotnet.timers",
                        "process.thread.count" => "process.threads",
                        "process.unix.file_descriptor.count" => "process.unix.file_descriptors",
                        _ => null,
                    },
                    CardinalityLimit = CardinalityLimitOf(instrument.Name),
                })
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

    /// <summary>
    /// The series a metric may have. The SDK allocates them all up front (72 bytes each, 2,000 by default): 47 metrics
    /// held 6.8 MB, the most of any one thing in an idle server's heap. A mount's and a relay's metrics keep the
    /// default (a series per mount, or per mount and reason, with the mounts benchmark at 1,000 mounts); the runtime's,
    /// the process's and Savate's global ones have a few each (a generation, a reason, a state).
    /// </summary>
    internal static int CardinalityLimitOf(string instrument) =>
        instrument.StartsWith("savate.mount.", StringComparison.Ordinal) || instrument.StartsWith("savate.relay.", StringComparison.Ordinal) ? 2000 : 64;

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

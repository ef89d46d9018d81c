using System.Net;
using System.Net.Security;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Savate.Server.Configuration;
using Savate.Server.Http;

namespace Savate.Server.Hosting;

/// <summary>
/// Kestrel's endpoints, one per listen URL (<c>server.listen</c>, or <c>--urls</c> / <c>ASPNETCORE_URLS</c> when given),
/// configured here rather than through Kestrel's URL binding so that each scheme gets its own connection pipeline:
/// <list type="bullet">
/// <item><c>http://</c>: HTTP/1.1; <see cref="RawSourceMiddleware"/> reads the first head.</item>
/// <item><c>https://</c>: the gate's release (outermost: a failed handshake still leaves the gate), TLS with the current
/// certificate of <see cref="TlsCertificates"/> (handshake timeout: request-head-timeout), HTTP/1.1 and HTTP/2 offered by
/// ALPN, then <see cref="RawSourceMiddleware"/> on the clear text (SOURCE and length-less PUT work over TLS too; listeners
/// are Kestrel's, through <see cref="ListenerHandler"/>, since the bytes must go through TLS).</item>
/// </list>
/// Kestrel's URL binding would put the connection middleware of <c>ConfigureEndpointDefaults</c> outside TLS and fix the
/// protocols before knowing the scheme.
/// </summary>
internal static class ListenEndpoints
{
    /// <summary>The URLs to listen on: <c>--urls</c> (or <c>ASPNETCORE_URLS</c>) when given, as Kestrel takes them, else <c>server.listen</c>.</summary>
    public static IReadOnlyList<string> Resolve(string? hostingUrls, ServerConfig server) =>
        string.IsNullOrWhiteSpace(hostingUrls)
            ? server.Listen
            : hostingUrls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>An https:// URL with no certificate configured: the reason, for start-up to stop on (null when fine).</summary>
    public static string? Check(IReadOnlyList<string> urls, ServerConfig server)
    {
        foreach (var url in urls)
        {
            if (IsHttps(url) && (server.TlsCertificate is null || server.TlsKey is null))
            {
                return $"{url} is https but server.tls-certificate and server.tls-key are not set (PEM files)";
            }
        }
        return null;
    }

    public static void Configure(KestrelServerOptions options, IReadOnlyList<string> urls, ServerConfig server)
    {
        foreach (var url in urls)
        {
            var address = BindingAddress.Parse(url);
            var https = IsHttps(url);
            void Endpoint(ListenOptions listen) => ConfigureEndpoint(listen, https, server);
            if (address.IsUnixPipe)
            {
                options.ListenUnixSocket(address.UnixPipePath, Endpoint);
            }
            else if (string.Equals(address.Host, "localhost", StringComparison.OrdinalIgnoreCase))
            {
                options.ListenLocalhost(address.Port, Endpoint);
            }
            else if (IPAddress.TryParse(address.Host.Trim('[', ']'), out var ip))
            {
                options.Listen(ip, address.Port, Endpoint);
            }
            else
            {
                // "*", "+" or a host name: every interface, as Kestrel binds them.
                options.ListenAnyIP(address.Port, Endpoint);
            }
        }
    }

    private static bool IsHttps(string url) => url.StartsWith("https://", StringComparison.OrdinalIgnoreCase);

    private static void ConfigureEndpoint(ListenOptions listen, bool https, ServerConfig server)
    {
        var raw = listen.ApplicationServices.GetRequiredService<RawSourceMiddleware>();
        if (https)
        {
            ConfigureTls(listen, server);
        }
        else
        {
            listen.Protocols = HttpProtocols.Http1;
        }
        listen.Use(next => connection => raw.OnConnectionAsync(connection, next));
    }

    // A method of its own, not inlined: a server without https:// URLs never loads System.Net.Security (two descriptors
    // per assembly, and the descriptor guard's margin is measured: HostileClientTests.DescriptorLimit_...).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ConfigureTls(ListenOptions listen, ServerConfig server)
    {
        var services = listen.ApplicationServices;
        var gate = services.GetRequiredService<ConnectionGate>();
        var certificates = services.GetRequiredService<TlsCertificates>();
        // Status, HLS, admin and metrics gain from HTTP/2 (one connection, many requests); players (ffplay, VLC) offer
        // only HTTP/1.1, and a stream asked over HTTP/2 (a browser) is served too (Http/README.md).
        listen.Protocols = HttpProtocols.Http1AndHttp2;
        listen.Use(next => async connection =>
        {
            try
            {
                await next(connection).ConfigureAwait(false);
            }
            finally
            {
                gate.Release(connection.Features.Get<IConnectionSocketFeature>()?.Socket);
            }
        });
        listen.UseHttps(new TlsHandshakeCallbackOptions
        {
            // One context per certificate (chain built once), looked up per handshake: a renewed file is served
            // from the next handshake on, without a restart.
            OnConnection = _ => ValueTask.FromResult(new SslServerAuthenticationOptions { ServerCertificateContext = certificates.Current() }),
            HandshakeTimeout = server.RequestHeadTimeout,
        });
    }
}

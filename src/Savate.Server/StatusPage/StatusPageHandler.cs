using System.Collections.Frozen;
using Microsoft.AspNetCore.Http;

namespace Savate.Server.StatusPage;

/// <summary>
/// The status page at <c>/</c> and its assets under <c>/status/</c>, embedded in the server (no CDN, nothing
/// fetched at run time): the page, its script and style, and mpegts.js (npm <c>mpegts.js</c> 1.8.2, its
/// <c>dist/mpegts.js</c> as published) with its licence. The page reads <c>/status.json</c>.
/// </summary>
internal static class StatusPageHandler
{
    // Assets are immutable for a build; the page itself is re-read on each visit.
    private const string AssetCacheControl = "public, max-age=3600";

    // The page runs only its own scripts and plays only this server's streams (MSE hands the video a blob: URL).
    private const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; media-src 'self' blob:; img-src 'self' data:; base-uri 'none'; frame-ancestors 'self'";

    private static readonly FrozenDictionary<string, Asset> s_assets = new Dictionary<string, Asset>(StringComparer.Ordinal)
    {
        ["/"] = Load("index.html", "text/html; charset=utf-8", "no-cache"),
        ["/status/app.js"] = Load("app.js", "text/javascript; charset=utf-8", AssetCacheControl),
        ["/status/app.css"] = Load("app.css", "text/css; charset=utf-8", AssetCacheControl),
        ["/status/mpegts.js"] = Load("mpegts.js", "text/javascript; charset=utf-8", AssetCacheControl),
        ["/status/mpegts.js.LICENSE"] = Load("mpegts.js.LICENSE", "text/plain; charset=utf-8", AssetCacheControl),
        ["/status/mpegts.js.THIRD-PARTY.txt"] = Load("mpegts.js.THIRD-PARTY.txt", "text/plain; charset=utf-8", AssetCacheControl),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    public static bool Handles(string path) => s_assets.ContainsKey(path);

    public static Task WriteAsync(HttpContext context)
    {
        var asset = s_assets[context.Request.Path.Value ?? "/"];
        var response = context.Response;
        response.ContentType = asset.ContentType;
        response.ContentLength = asset.Bytes.Length;
        response.Headers.CacheControl = asset.CacheControl;
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
        return HttpMethods.IsHead(context.Request.Method) ? Task.CompletedTask : response.Body.WriteAsync(asset.Bytes).AsTask();
    }

    private static Asset Load(string name, string contentType, string cacheControl)
    {
        using var stream = typeof(StatusPageHandler).Assembly.GetManifestResourceStream("StatusPage/" + name)
            ?? throw new InvalidOperationException($"The status page asset {name} is not embedded in the build");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return new Asset(copy.ToArray(), contentType, cacheControl);
    }

    private sealed record Asset(byte[] Bytes, string ContentType, string CacheControl);
}

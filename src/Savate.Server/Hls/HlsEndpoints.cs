using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Savate.Server.Http;
using Savate.Server.Streaming;

namespace Savate.Server.Hls;

/// <summary>
/// HTTP for HLS, made for caches: <c>{mount}/index.m3u8</c> (media playlist), <c>{mount}/master.m3u8</c>
/// (multivariant playlist) and <c>{mount}/{run}-{sequence}.ts</c> (segments). Playlists may be cached for at
/// most half a target duration; segments, whose names are never reused, for an hour and as immutable. Nothing
/// per viewer: no cookie, no session in the URL. CORS on every answer; HEAD and single byte ranges on segments.
/// </summary>
internal static class HlsEndpoints
{
    public const string MediaPlaylistName = "index.m3u8";
    public const string MultivariantPlaylistName = "master.m3u8";
    public const string PlaylistContentType = "application/vnd.apple.mpegurl";
    public const string SegmentContentType = "video/mp2t";

    /// <summary>Segments are immutable under unique names; an hour outlives any playlist that lists them.</summary>
    public const int SegmentMaxAgeSeconds = 3600;

    public static IServiceCollection AddHls(this IServiceCollection services)
    {
        services.AddSingleton<HlsService>();
        services.AddHostedService(sp => sp.GetRequiredService<HlsService>());
        return services;
    }

    /// <summary>Answers HLS paths of mounts with HLS enabled; everything else goes on to <paramref name="app"/>'s next handler.</summary>
    public static IApplicationBuilder UseHls(this IApplicationBuilder app)
    {
        var hls = app.ApplicationServices.GetRequiredService<HlsService>();
        var registry = app.ApplicationServices.GetRequiredService<MountRegistry>();
        var access = app.ApplicationServices.GetRequiredService<Auth.AccessControl>();
        return app.Use(next => context => TryHandle(context, hls, registry, access) ?? next(context));
    }

    private static Task? TryHandle(HttpContext context, HlsService hls, MountRegistry registry, Auth.AccessControl access)
    {
        var method = context.Request.Method;
        if (!HttpMethods.IsGet(method) && !HttpMethods.IsHead(method))
        {
            return null;
        }
        var path = context.Request.Path.Value ?? "/";
        var slash = path.LastIndexOf('/');
        if (slash <= 0)
        {
            return null;
        }
        var name = path[(slash + 1)..];
        if (name != MediaPlaylistName && name != MultivariantPlaylistName && !name.EndsWith(".ts", StringComparison.Ordinal))
        {
            return null;
        }
        if (MountPaths.FindListenable(registry, path[..slash]) is not { } mount || !mount.Config.Hls.Enabled)
        {
            return null;
        }
        // A master may send a new HLS player to a slave (server.redirect): its playlist only; segment URIs are relative.
        if (name is MediaPlaylistName or MultivariantPlaylistName
            && Relaying.SlaveRedirect.LocationFor(registry, mount, path + context.Request.QueryString.Value, context.Request.Headers.Authorization) is { } location)
        {
            HttpResponses.WriteRedirect(context, location);
            return Task.CompletedTask;
        }
        AddCommonHeaders(context.Response);
        // The same rules as the mount's stream (Auth/AccessControl), for the playlists and for every segment.
        var server = registry.Config.Server;
        return Auth.AccessControl.NeedsListenerCheck(server, mount.Config)
            ? ServeCheckedAsync(context, hls, mount, name, access, server, path)
            : Serve(context, hls, mount, name);
    }

    private static Task Serve(HttpContext context, HlsService hls, Mount mount, string name) =>
        name is MediaPlaylistName or MultivariantPlaylistName
            ? ServePlaylistAsync(context, hls, mount, name == MultivariantPlaylistName)
            : ServeSegmentAsync(context, hls, mount, name);

    private static async Task ServeCheckedAsync(HttpContext context, HlsService hls, Mount mount, string name, Auth.AccessControl access,
        Configuration.ServerConfig server, string path)
    {
        var decision = await access.CheckListenerAsync(server, mount.Config, AccessRequests.FromContext(context, path), context.RequestAborted).ConfigureAwait(false);
        if (!decision.IsAllowed)
        {
            await HttpResponses.WritePlainAsync(context, decision.StatusCode, decision.Reason).ConfigureAwait(false);
            return;
        }
        await Serve(context, hls, mount, name).ConfigureAwait(false);
    }

    /// <summary>
    /// True when answers are per viewer: the mount has listener-auth. Segment URIs are relative, so a player sends its
    /// playlist's query (its token) only if the playlist writes it onto each URI; and no shared cache may keep them.
    /// </summary>
    private static bool IsPrivate(Mount mount) => !mount.Config.ListenerAuth.IsEmpty;

    /// <summary>Appends <paramref name="query"/> to every URI line of a playlist (lines not starting with '#').</summary>
    internal static string WithQuery(string playlist, string query)
    {
        var text = new StringBuilder(playlist.Length + 64);
        foreach (var line in playlist.AsSpan().EnumerateLines())
        {
            if (line.Length > 0 && line[0] != '#')
            {
                text.Append(line).Append(line.Contains('?') ? '&' : '?').Append(query).Append('\n');
            }
            else
            {
                text.Append(line).Append('\n');
            }
        }
        // EnumerateLines yields one empty line after a final newline.
        return playlist.EndsWith('\n') ? text.ToString(0, text.Length - 1) : text.ToString();
    }

    private static async Task ServePlaylistAsync(HttpContext context, HlsService hls, Mount mount, bool multivariant)
    {
        var state = hls.Touch(mount);
        var playlist = state.Playlist;
        if (playlist.Count == 0)
        {
            if (mount.Availability == MountAvailability.NoSource)
            {
                await WriteUnavailableAsync(context, $"{mount.Path} has no source right now").ConfigureAwait(false);
                return;
            }
            // The first segment is one segment-duration (rounded up to a keyframe) away: wait for it rather
            // than send players an empty playlist they would have to retry.
            var wait = TimeSpan.FromSeconds(Math.Max(10, 3 * mount.Config.Hls.SegmentDuration.TotalSeconds));
            try
            {
                await playlist.SegmentAdded.WaitAsync(wait, hls.Time, context.RequestAborted).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
        var media = playlist.RenderMediaPlaylist();
        var text = media is null ? null : multivariant ? playlist.RenderMultivariantPlaylist(MediaPlaylistName) : media;
        if (text is null)
        {
            await WriteUnavailableAsync(context, $"{mount.Path}: no HLS segment yet").ConfigureAwait(false);
            return;
        }
        var isPrivate = IsPrivate(mount);
        if (isPrivate && context.Request.QueryString is { HasValue: true } query && query.Value!.Length > 1)
        {
            text = WithQuery(text, query.Value[1..]);
        }
        var response = context.Response;
        response.StatusCode = 200;
        response.ContentType = PlaylistContentType;
        // At most half a target duration, so a cache never holds a playlist a player would find stale (RFC 8216 6.2.1).
        var maxAge = playlist.TargetDuration / 2;
        response.Headers.CacheControl = maxAge > 0 ? $"{(isPrivate ? "private" : "public")}, max-age={maxAge.ToString(CultureInfo.InvariantCulture)}"
            : isPrivate ? "private, no-cache" : "no-cache";
        var body = Encoding.UTF8.GetBytes(text);
        response.ContentLength = body.Length;
        if (!HttpMethods.IsHead(context.Request.Method))
        {
            await response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
        }
    }

    private static Task ServeSegmentAsync(HttpContext context, HlsService hls, Mount mount, string name)
    {
        var state = hls.Find(mount.Path);
        if (state is null || !state.Playlist.TryParseSegmentName(name, out var sequence) || state.Playlist.Find(sequence) is not { } segment)
        {
            return HttpResponses.WritePlainAsync(context, 404, $"No segment {name} on {mount.Path}");
        }
        state.LastRequest = hls.Time.GetTimestamp();
        var response = context.Response;
        response.ContentType = SegmentContentType;
        response.Headers.CacheControl = $"{(IsPrivate(mount) ? "private" : "public")}, max-age={SegmentMaxAgeSeconds.ToString(CultureInfo.InvariantCulture)}, immutable";
        response.Headers.AcceptRanges = "bytes";
        response.Headers.ETag = $"\"{hls.RunId}-{segment.Sequence.ToString(CultureInfo.InvariantCulture)}\"";
        var data = segment.Data;
        var (offset, length) = (0, data.Length);
        if (context.Request.Headers.Range is { Count: > 0 } range)
        {
            if (!TryParseRange(range.ToString(), data.Length, out offset, out length))
            {
                response.StatusCode = 416;
                response.Headers.ContentRange = $"bytes */{data.Length.ToString(CultureInfo.InvariantCulture)}";
                return Task.CompletedTask;
            }
            response.StatusCode = 206;
            response.Headers.ContentRange = string.Create(CultureInfo.InvariantCulture, $"bytes {offset}-{offset + length - 1}/{data.Length}");
        }
        else
        {
            response.StatusCode = 200;
        }
        response.ContentLength = length;
        if (HttpMethods.IsHead(context.Request.Method))
        {
            return Task.CompletedTask;
        }
        segment.OnServed();
        return response.Body.WriteAsync(data.AsMemory(offset, length), context.RequestAborted).AsTask();
    }

    /// <summary>One range of RFC 9110 14.1.2: <c>bytes=a-b</c>, <c>bytes=a-</c> or <c>bytes=-n</c>. Several ranges are not served.</summary>
    internal static bool TryParseRange(string header, int size, out int offset, out int length)
    {
        offset = 0;
        length = 0;
        if (!header.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase) || header.Contains(',', StringComparison.Ordinal))
        {
            return false;
        }
        var spec = header.AsSpan(6).Trim();
        var dash = spec.IndexOf('-');
        if (dash < 0)
        {
            return false;
        }
        var first = spec[..dash].Trim();
        var last = spec[(dash + 1)..].Trim();
        if (first.IsEmpty)
        {
            if (!long.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out var suffix) || suffix == 0 || size == 0)
            {
                return false;
            }
            length = (int)Math.Min(suffix, size);
            offset = size - length;
            return true;
        }
        if (!long.TryParse(first, NumberStyles.None, CultureInfo.InvariantCulture, out var start) || start >= size)
        {
            return false;
        }
        var end = size - 1L;
        if (!last.IsEmpty)
        {
            if (!long.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out var lastByte) || lastByte < start)
            {
                return false;
            }
            end = Math.Min(end, lastByte);
        }
        offset = (int)start;
        length = (int)(end - start + 1);
        return true;
    }

    private static void AddCommonHeaders(HttpResponse response)
    {
        response.Headers.AccessControlAllowOrigin = "*";
        response.Headers.AccessControlExposeHeaders = "Content-Length, Content-Range";
    }

    private static Task WriteUnavailableAsync(HttpContext context, string message)
    {
        context.Response.Headers.RetryAfter = "2";
        return HttpResponses.WritePlainAsync(context, 503, message);
    }
}

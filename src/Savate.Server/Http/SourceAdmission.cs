using Savate.Server.Configuration;
using Savate.Server.Streaming;

namespace Savate.Server.Http;

/// <summary>The answer to a source request, before any body byte is read.</summary>
internal readonly record struct Admission(int StatusCode, string Message, SourceSession? Session, MountFormat Format)
{
    public bool IsAccepted => StatusCode == 200;

    public static Admission Refuse(int statusCode, string message) => new(statusCode, message, null, MountFormat.Auto);
}

/// <summary>
/// Who may push where: the one decision shared by the Kestrel path (chunked or sized bodies) and
/// the raw connection path (Icecast-style bodies with no length, SOURCE).
/// </summary>
internal static class SourceAdmission
{
    public const string SourceUser = "source";

    // expectsContinue: the client sent "Expect: 100-continue", so it sends its body as soon as it is told to, and
    // its first bytes can decide even under a foreign Content-Type (ffmpeg's icecast:// says audio/mpeg unless
    // given -content_type). Without it (libshout), a foreign type is refused at once.
    public static Admission Admit(MountRegistry registry, string path, string? authorization, string? contentType, string remote, string? userAgent,
        bool expectsContinue = false)
    {
        var server = registry.Config.Server;
        var mount = registry.Find(path);
        if (mount is null)
        {
            if (!server.DynamicMounts || server.SourcePassword is null || !MountPaths.IsValidDynamic(path))
            {
                return Admission.Refuse(404, $"No mount {path} (and mounts are not created on the fly here)");
            }
            if (!BasicAuth.Matches(authorization, SourceUser, server.SourcePassword))
            {
                return Admission.Refuse(401, "Source credentials required (user \"source\" and the server's source password)");
            }
            if (FormatSniffer.IsForeign(contentType) && !expectsContinue)
            {
                return RefuseForeign(path, contentType);
            }
            mount = registry.GetOrCreateDynamic(path);
        }
        else
        {
            var password = mount.Config.SourcePassword ?? server.SourcePassword;
            if (password is not null && !BasicAuth.Matches(authorization, SourceUser, password))
            {
                return Admission.Refuse(401, $"Source credentials required for {path}");
            }
            if (FormatSniffer.IsForeign(contentType) && !expectsContinue)
            {
                return RefuseForeign(path, contentType);
            }
        }

        var format = FormatSniffer.FromContentType(contentType);
        if (format != MountFormat.Auto && mount.Config.Format != MountFormat.Auto && format != mount.Config.Format)
        {
            return Admission.Refuse(415, $"{path} takes {Describe(mount.Config.Format)}, not {contentType}");
        }
        if (format == MountFormat.Auto)
        {
            format = mount.Config.Format;
        }

        var session = new SourceSession(mount, remote, userAgent);
        if (!mount.TryClaim(session))
        {
            return Admission.Refuse(409, $"{path} already has a source");
        }
        return new Admission(200, "OK", session, format);
    }

    // Refused before the body: a libshout client (audio/mpeg, Ogg, WebM) sends nothing until it has the answer, so
    // sniffing would wait source-timeout for nothing.
    private static Admission RefuseForeign(string path, string? contentType) =>
        Admission.Refuse(415, $"{path} takes FLV (video/x-flv) or MPEG-TS (video/mp2t), not {contentType}");

    public static string Describe(MountFormat format) => format switch
    {
        MountFormat.Flv => "FLV (video/x-flv)",
        MountFormat.Mpegts => "MPEG-TS (video/mp2t)",
        _ => "FLV or MPEG-TS",
    };
}

/// <summary>Paths that are the server's own and cannot be mounts.</summary>
internal static class MountPaths
{
    public static bool IsReserved(string path) =>
        path is "/status.json" or "/status" or "/metrics" or "/admin" || path.StartsWith("/admin/", StringComparison.Ordinal);

    /// <summary>The mount a listener asking for <paramref name="path"/> gets, or null (unknown or reserved: a 404).</summary>
    public static Mount? FindListenable(MountRegistry registry, string path) => IsReserved(path) ? null : registry.Find(path);

    public static bool IsValidDynamic(string path) =>
        path.Length is > 1 and <= 256
        && path[0] == '/'
        && !IsReserved(path)
        && !path.Contains("..", StringComparison.Ordinal)
        && path.All(c => c > ' ' && c < 0x7F && c is not ('?' or '#' or '%' or '\\'));
}

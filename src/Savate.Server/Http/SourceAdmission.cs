using Savate.Server.Configuration;
using Savate.Server.Streaming;

namespace Savate.Server.Http;

/// <summary>The answer to a source request, before any body byte is read.</summary>
internal readonly record struct Admission(int StatusCode, string Message, SourceSession? Session, MountFormat Format)
{
    /// <summary>server.access-log, when on: the source is logged when it ends.</summary>
    public AccessLog.AccessLogWriter? AccessLog { get; init; }

    /// <summary>How long the source may publish (a source-auth hook's <c>duration</c>), or null.</summary>
    public TimeSpan? TimeLimit { get; init; }

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
    public static async ValueTask<Admission> AdmitAsync(MountRegistry registry, Auth.AccessControl access, Auth.AccessRequest request, string? contentType,
        bool expectsContinue, CancellationToken cancellationToken)
    {
        var server = registry.Config.Server;
        var path = request.Path;
        var remote = request.Remote;
        var userAgent = request.UserAgent;
        var mount = registry.Find(path);
        Auth.AccessDecision decision;
        if (mount is null)
        {
            // A path no mount declares: created on the fly (with mount-defaults) for a source the server's password, or
            // mount-defaults' source-auth, lets in.
            var defaults = server.MountDefaults;
            if (!server.DynamicMounts || (server.SourcePassword is null && defaults.SourceAuth.IsEmpty) || !MountPaths.IsValidDynamic(path))
            {
                return Admission.Refuse(404, $"No mount {path} (and mounts are not created on the fly here)");
            }
            decision = await access.CheckSourceAsync(server, defaults, path, server.SourcePassword, request, cancellationToken).ConfigureAwait(false);
            if (!decision.IsAllowed)
            {
                return Admission.Refuse(decision.StatusCode, decision.StatusCode == 401 && defaults.SourceAuth.IsEmpty
                    ? "Source credentials required (user \"source\" and the server's source password)"
                    : decision.Reason);
            }
            if (FormatSniffer.IsForeign(contentType) && !expectsContinue)
            {
                return RefuseForeign(path, contentType);
            }
            mount = registry.GetOrCreateDynamic(path);
            if (mount is null)
            {
                return Admission.Refuse(503, $"No mount {path}, and no more can be created on the fly (server.max-dynamic-mounts is {server.MaxDynamicMounts})");
            }
        }
        else
        {
            var config = mount.Config;
            decision = await access.CheckSourceAsync(server, config, path, config.SourcePassword ?? server.SourcePassword, request, cancellationToken).ConfigureAwait(false);
            if (!decision.IsAllowed)
            {
                return Admission.Refuse(decision.StatusCode, decision.Reason);
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

        var session = new SourceSession(mount, remote, userAgent, registry.SourceGuard);
        if (!mount.TryClaim(session))
        {
            return Admission.Refuse(409, $"{path} already has a source");
        }
        return new Admission(200, "OK", session, format) { AccessLog = registry.AccessLog, TimeLimit = decision.TimeLimit };
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

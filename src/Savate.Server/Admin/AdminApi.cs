using System.Globalization;
using System.Text.Json;
using System.Xml.Linq;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Savate.Server.Configuration;
using Savate.Server.Http;
using Savate.Server.Relaying;
using Savate.Server.Streaming;

namespace Savate.Server.Admin;

/// <summary>
/// The admin API under <c>/admin/</c> (JSON), and Icecast's admin URLs for the same actions. Guarded by
/// <c>server.admin-password</c> (HTTP Basic, user <c>admin</c>); with no password the whole API is off (404).
/// State-changing commands take POST or DELETE only: a GET (a link followed, a prefetch) gets 405, as in
/// Icecast 2.5's strict mode (FIELD-NOTES 9).
/// </summary>
internal sealed class AdminApi(MountRegistry registry, RelayService relays, IServiceProvider services, ILogger<AdminApi> logger)
{
    public const string AdminUser = "admin";

    private long _lastUnauthorizedLog = Environment.TickCount64 - 60_000;

    private enum Command
    {
        Mounts,
        Listeners,
        Kick,
        KillSource,
        Move,
        Reload,
    }

    private enum Dialect
    {
        Json,
        IcecastXml,
        IcecastJson,
    }

    // Paths are matched exactly (ordinal): these are the contract's names and Icecast's.
    private static readonly Dictionary<string, (Command Command, Dialect Dialect)> s_routes = new(StringComparer.Ordinal)
    {
        ["/admin/mounts"] = (Command.Mounts, Dialect.Json),
        ["/admin/listeners"] = (Command.Listeners, Dialect.Json),
        ["/admin/kick"] = (Command.Kick, Dialect.Json),
        ["/admin/kill-source"] = (Command.KillSource, Dialect.Json),
        ["/admin/move"] = (Command.Move, Dialect.Json),
        ["/admin/reload"] = (Command.Reload, Dialect.Json),
        ["/admin/listmounts"] = (Command.Mounts, Dialect.IcecastXml),
        ["/admin/listmounts.json"] = (Command.Mounts, Dialect.IcecastJson),
        ["/admin/listclients"] = (Command.Listeners, Dialect.IcecastXml),
        ["/admin/listclients.json"] = (Command.Listeners, Dialect.IcecastJson),
        ["/admin/killclient"] = (Command.Kick, Dialect.IcecastXml),
        ["/admin/killsource"] = (Command.KillSource, Dialect.IcecastXml),
        ["/admin/moveclients"] = (Command.Move, Dialect.IcecastXml),
    };

    /// <summary>True for a path this API answers (everything under /admin/ but the relay's stream list).</summary>
    public static bool Handles(string path) =>
        path.StartsWith("/admin/", StringComparison.Ordinal) && path != "/admin/streamlist.txt" || path == "/admin";

    public async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "/";
        var method = context.Request.Method;
        var password = registry.Config.Server.AdminPassword;
        if (password is null)
        {
            await HttpResponses.WritePlainAsync(context, 404, "The admin API is off (set server.admin-password)").ConfigureAwait(false);
            return;
        }
        if (!BasicAuth.Matches(context.Request.Headers.Authorization, AdminUser, password))
        {
            // Once a minute at most: a scanner must not flood the log.
            var now = Environment.TickCount64;
            var last = Interlocked.Read(ref _lastUnauthorizedLog);
            if (now - last >= 60_000 && Interlocked.CompareExchange(ref _lastUnauthorizedLog, now, last) == last)
            {
                AdminLog.Unauthorized(logger, ListenerHandler.RemoteOf(context), path);
            }
            await HttpResponses.WritePlainAsync(context, 401, "Admin credentials required (user \"admin\")").ConfigureAwait(false);
            return;
        }
        if (!s_routes.TryGetValue(path, out var route))
        {
            await HttpResponses.WritePlainAsync(context, 404, $"No admin command {path}").ConfigureAwait(false);
            return;
        }
        var readOnly = route.Command is Command.Mounts or Command.Listeners;
        var allowed = readOnly ? HttpMethods.IsGet(method) || HttpMethods.IsHead(method) : HttpMethods.IsPost(method) || HttpMethods.IsDelete(method);
        if (!allowed)
        {
            context.Response.Headers.Allow = readOnly ? "GET, HEAD" : "POST, DELETE";
            await HttpResponses.WritePlainAsync(context, 405,
                readOnly ? $"{path} is read-only: use GET" : $"{path} changes state: use POST or DELETE").ConfigureAwait(false);
            return;
        }

        var query = context.Request.Query;
        var outcome = route.Command switch
        {
            Command.Mounts => ListMounts(),
            Command.Listeners => ListListeners(query["mount"]),
            Command.Kick => Kick(query["mount"], query["id"]),
            Command.KillSource => KillSource(query["mount"]),
            Command.Move => Move(query["mount"], query["destination"]),
            Command.Reload => await ReloadAsync(context.RequestAborted).ConfigureAwait(false),
            _ => throw new InvalidOperationException(),
        };
        await WriteAsync(context, route.Dialect, outcome).ConfigureAwait(false);
    }

    private Outcome ListMounts() => Outcome.Of(StatusHandler.Build(registry, relays.Statuses).Mounts);

    private Outcome ListListeners(string? path)
    {
        if (Resolve(path, out var mount) is { } error)
        {
            return error;
        }
        var listeners = ListenerMover.ListenersOf(mount!)
            .OrderBy(l => l.Id)
            .Select(l => new ListenerInfo(l.Id, l.Remote, l.UserAgent, l.ConnectedAt, l.BytesSent, l.LagMilliseconds, l.Skips))
            .ToArray();
        return new Outcome(200, null, listeners, mount);
    }

    private Outcome Kick(string? path, string? idText)
    {
        if (Resolve(path, out var mount) is { } error)
        {
            return error;
        }
        if (!long.TryParse(idText, NumberStyles.None, CultureInfo.InvariantCulture, out var id))
        {
            return Outcome.Fail(400, "id= must be a listener id (see /admin/listeners)");
        }
        var target = mount!;
        var listener = ListenerMover.ListenersOf(target).FirstOrDefault(l => l.Id == id);
        if (listener is null || !listener.Kick())
        {
            return Outcome.Fail(404, $"No listener {id} on {target.Path}");
        }
        AdminLog.Kicked(logger, id, target.Path, listener.Remote);
        return Outcome.Done($"Listener {id} kicked from {target.Path}");
    }

    private Outcome KillSource(string? path)
    {
        if (Resolve(path, out var mount) is { } error)
        {
            return error;
        }
        var source = mount!.Source;
        if (source is null)
        {
            return Outcome.Fail(404, $"{mount.Path} has no source");
        }
        // The session ends as if the encoder had gone: grace, then the fallback chain (Mount.Release).
        source.Kick();
        AdminLog.SourceKilled(logger, mount.Path, source.Remote);
        return Outcome.Done($"Source on {mount.Path} killed");
    }

    private Outcome Move(string? path, string? destinationPath)
    {
        if (Resolve(path, out var mount) is { } error)
        {
            return error;
        }
        if (string.IsNullOrEmpty(destinationPath))
        {
            return Outcome.Fail(400, "destination= is required (a mount path)");
        }
        var destination = registry.Find(destinationPath);
        if (destination is null)
        {
            return Outcome.Fail(404, $"No mount {destinationPath}");
        }
        var result = ListenerMover.Move(registry, mount!, destination);
        if (result.Error is { } refusal)
        {
            return Outcome.Fail(409, refusal);
        }
        AdminLog.Moved(logger, result.Moved, mount!.Path, destination.Path);
        return Outcome.Done($"{result.Moved} listeners moved from {mount.Path} to {destination.Path}");
    }

    private async Task<Outcome> ReloadAsync(CancellationToken cancellationToken)
    {
        var reloader = services.GetRequiredService<IConfigReloader>();
        var result = await reloader.ReloadAsync("admin API", cancellationToken).ConfigureAwait(false);
        AdminLog.Reloaded(logger, result.Success, result.Errors.Count, result.Changes.Count);
        return new Outcome(result.Success ? 200 : 422, result.Success ? "Configuration reloaded" : "Configuration rejected; nothing changed",
            new ReloadInfo(result.Success, [.. result.Errors], [.. result.Changes]), null);
    }

    private Outcome? Resolve(string? path, out Mount? mount)
    {
        mount = null;
        if (string.IsNullOrEmpty(path))
        {
            return Outcome.Fail(400, "mount= is required (a mount path such as /live.flv)");
        }
        mount = registry.Find(path);
        return mount is null ? Outcome.Fail(404, $"No mount {path}") : null;
    }

    private static Task WriteAsync(HttpContext context, Dialect dialect, Outcome outcome)
    {
        var response = context.Response;
        response.StatusCode = outcome.Status;
        response.Headers.CacheControl = "no-cache";
        if (dialect == Dialect.IcecastXml)
        {
            response.ContentType = "text/xml; charset=utf-8";
            var xml = IcecastXml.Render(outcome);
            return HttpMethods.IsHead(context.Request.Method) ? Task.CompletedTask : response.WriteAsync(xml);
        }
        response.ContentType = "application/json; charset=utf-8";
        if (HttpMethods.IsHead(context.Request.Method))
        {
            return Task.CompletedTask;
        }
        return outcome.Data switch
        {
            MountStatus[] mounts => JsonSerializer.SerializeAsync(response.Body, mounts, AdminJsonContext.Default.MountStatusArray),
            ListenerInfo[] listeners => JsonSerializer.SerializeAsync(response.Body, listeners, AdminJsonContext.Default.ListenerInfoArray),
            ReloadInfo reload => JsonSerializer.SerializeAsync(response.Body, reload, AdminJsonContext.Default.ReloadInfo),
            _ => JsonSerializer.SerializeAsync(response.Body, new AdminMessage(outcome.Status < 300, outcome.Message ?? string.Empty), AdminJsonContext.Default.AdminMessage),
        };
    }
}

/// <summary>What a command produced: a status, a message, and the listing if it lists.</summary>
internal sealed record Outcome(int Status, string? Message, object? Data, Mount? Mount)
{
    public static Outcome Of(object data) => new(200, null, data, null);

    public static Outcome Done(string message) => new(200, message, null, null);

    public static Outcome Fail(int status, string message) => new(status, message, null, null);
}

/// <summary>Icecast's XML answers (<c>icestats</c> listings, <c>iceresponse</c> for actions), for tools that parse them.</summary>
internal static class IcecastXml
{
    public static string Render(Outcome outcome)
    {
        var now = DateTimeOffset.UtcNow;
        XElement root = outcome.Data switch
        {
            MountStatus[] mounts => new XElement("icestats",
                mounts.Select(m => new XElement("source", new XAttribute("mount", m.Path),
                    new XElement("listeners", m.Listeners),
                    new XElement("Connected", m.Source is { } s ? (long)(now - s.ConnectedAt).TotalSeconds : 0),
                    new XElement("content-type", m.ContentType)))),
            ListenerInfo[] listeners => new XElement("icestats",
                new XElement("source", new XAttribute("mount", outcome.Mount?.Path ?? string.Empty),
                    new XElement("Listeners", listeners.Length),
                    listeners.Select(l => new XElement("listener", new XAttribute("id", l.Id),
                        new XElement("IP", l.Address),
                        new XElement("UserAgent", l.UserAgent ?? string.Empty),
                        new XElement("Connected", (long)(now - l.ConnectedAt).TotalSeconds),
                        new XElement("ID", l.Id))))),
            _ => new XElement("iceresponse",
                new XElement("message", outcome.Message ?? string.Empty),
                new XElement("return", outcome.Status < 300 ? 1 : 0)),
        };
        return new XDocument(new XDeclaration("1.0", "UTF-8", null), root).Declaration + "\n" + root + "\n";
    }
}

/// <summary>One listener of <c>/admin/listeners</c>.</summary>
internal sealed record ListenerInfo(long Id, string Address, string? UserAgent, DateTimeOffset ConnectedAt, long BytesSent, long LagMs, int Skips);

/// <summary>The answer of an admin action.</summary>
internal sealed record AdminMessage(bool Ok, string Message);

/// <summary>The answer of <c>/admin/reload</c>.</summary>
internal sealed record ReloadInfo(bool Success, string[] Errors, string[] Changes);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[System.Text.Json.Serialization.JsonSerializable(typeof(MountStatus[]))]
[System.Text.Json.Serialization.JsonSerializable(typeof(ListenerInfo[]))]
[System.Text.Json.Serialization.JsonSerializable(typeof(AdminMessage))]
[System.Text.Json.Serialization.JsonSerializable(typeof(ReloadInfo))]
internal sealed partial class AdminJsonContext : System.Text.Json.Serialization.JsonSerializerContext;

internal static partial class AdminLog
{
    [LoggerMessage(600, LogLevel.Warning, "Admin request for {Path} from {Remote} without valid credentials (logged once a minute at most)")]
    public static partial void Unauthorized(ILogger logger, string remote, string path);

    [LoggerMessage(601, LogLevel.Information, "Admin: listener {Id} kicked from {Mount} ({Remote})")]
    public static partial void Kicked(ILogger logger, long id, string mount, string remote);

    [LoggerMessage(602, LogLevel.Information, "Admin: source on {Mount} ({Remote}) killed")]
    public static partial void SourceKilled(ILogger logger, string mount, string remote);

    [LoggerMessage(603, LogLevel.Information, "Admin: {Count} listeners moved from {Mount} to {Destination}")]
    public static partial void Moved(ILogger logger, int count, string mount, string destination);

    [LoggerMessage(604, LogLevel.Information, "Admin: reload done (success: {Success}, {Errors} errors, {Changes} changes)")]
    public static partial void Reloaded(ILogger logger, bool success, int errors, int changes);
}

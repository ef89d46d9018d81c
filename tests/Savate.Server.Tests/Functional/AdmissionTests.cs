using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Savate.Server.Auth;
using Savate.Server.Tests.Infrastructure;
using Xunit;

namespace Savate.Server.Tests.Functional;

/// <summary>Shared helpers of the admission tests (issue 13): raw requests from a chosen address, tokens, users files.</summary>
internal static class Admission
{
    public const string Key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    public static string Token(string acl, TimeSpan? validFor = null, DateTimeOffset? start = null)
    {
        var now = DateTimeOffset.UtcNow;
        return EdgeAuthToken.Create(Convert.FromHexString(Key), acl, start, now + (validFor ?? TimeSpan.FromHours(1)));
    }

    /// <summary>A GET (or other request) on a fresh connection from <paramref name="from"/>; returns the response head (and closes).</summary>
    public static async Task<string> HeadOfAsync(TestServer server, string target, string headers = "", IPAddress? from = null, string method = "GET")
    {
        await using var client = await HostileClientTests.ConnectFromAsync(server.Port, from ?? IPAddress.Loopback);
        await client.SendAsync($"{method} {target} HTTP/1.1\r\nHost: savate\r\n{headers}\r\n");
        var (head, _) = await client.ReadHeadAsync(TimeSpan.FromSeconds(15));
        return head;
    }

    /// <summary>A whole refusal (head and body) on a fresh connection from 127.0.0.1.</summary>
    public static async Task<string> TextOfAsync(TestServer server, string target, string headers = "")
    {
        await using var client = await RawHttp.ConnectAsync(server.Port);
        await client.SendAsync($"GET {target} HTTP/1.1\r\nHost: savate\r\n{headers}\r\n");
        return await HostileClientTests.ReadAllAsync(client, TimeSpan.FromSeconds(15));
    }

    public static int StatusOf(string head) => int.Parse(head.Split(' ', 3)[1], System.Globalization.CultureInfo.InvariantCulture);

    public static string Basic(string user, string password) => "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"));

    /// <summary>A bcrypt htpasswd file (cost 5, as <c>htpasswd -nbB</c> makes) in the test's folder.</summary>
    public static string UsersFile(params (string User, string Password)[] users)
    {
        var path = Path.Combine(Path.GetTempPath(), $"savate-users-{Guid.NewGuid():N}.htpasswd");
        File.WriteAllLines(path, users.Select(u => $"{u.User}:{BCrypt.Net.BCrypt.HashPassword(u.Password, 5)}"));
        return path;
    }
}

/// <summary>EdgeAuth tokens on a mount: ffmpeg with a valid, an expired, a tampered and a wrong-ACL token; only the valid one decodes.</summary>
public sealed class AdmissionTokenTests
{
    private static readonly string Config = $"""
        mounts:
          - path: /paid.flv
            format: flv
            fallback:
              - file: samples/sample.flv
            listener-auth:
              token-key: {Admission.Key}
          - path: /free.flv
            format: flv
            fallback:
              - file: samples/sample.flv
        """;

    [Fact]
    public async Task Ffmpeg_OnlyTheValidTokenDecodes_EachRefusalIsA403WithItsReason()
    {
        await using var server = await TestServer.StartAsync(Config);
        var url = server.Url("/paid.flv").ToString();
        var valid = Admission.Token("/paid.flv*");
        var expired = EdgeAuthToken.Create(Convert.FromHexString(Admission.Key), "/paid.flv*", null, DateTimeOffset.UtcNow - TimeSpan.FromMinutes(1));
        var tampered = valid.Replace("acl=/paid.flv*", "acl=/*", StringComparison.Ordinal);
        var wrongAcl = Admission.Token("/other.flv*");
        var notYet = Admission.Token("/paid.flv*", TimeSpan.FromHours(2), DateTimeOffset.UtcNow + TimeSpan.FromHours(1));

        var decoded = await Ffmpeg.DecodeAsync($"{url}?hdnts={valid}", seconds: 2);
        Assert.True(decoded.ExitCode == 0 && decoded.VideoFrames > 10, decoded.ToString());
        var viaOtherName = await Ffmpeg.DecodeAsync($"{url}?__token__={Uri.EscapeDataString(valid)}", seconds: 1);
        Assert.True(viaOtherName.ExitCode == 0 && viaOtherName.VideoFrames > 0, viaOtherName.ToString());

        foreach (var bad in new[] { expired, tampered, wrongAcl })
        {
            var refused = await Ffmpeg.DecodeAsync($"{url}?hdnts={bad}", seconds: 2);
            Assert.NotEqual(0, refused.ExitCode);
            Assert.Equal(0, refused.TotalFrames);
            Assert.Contains("403", refused.Errors, StringComparison.Ordinal);
        }

        Assert.Contains("has expired", await BodyOfAsync(server, $"/paid.flv?hdnts={expired}"), StringComparison.Ordinal);
        Assert.Contains("signature does not match", await BodyOfAsync(server, $"/paid.flv?hdnts={tampered}"), StringComparison.Ordinal);
        Assert.Contains("does not cover /paid.flv", await BodyOfAsync(server, $"/paid.flv?hdnts={wrongAcl}"), StringComparison.Ordinal);
        Assert.Contains("not valid yet", await BodyOfAsync(server, $"/paid.flv?hdnts={notYet}"), StringComparison.Ordinal);
        Assert.Contains("no token", await BodyOfAsync(server, "/paid.flv"), StringComparison.Ordinal);
        // HEAD is held to the same rules; a cookie carries the token as well; the mount without rules is open.
        Assert.Equal(403, Admission.StatusOf(await Admission.HeadOfAsync(server, "/paid.flv", method: "HEAD")));
        Assert.Equal(200, Admission.StatusOf(await Admission.HeadOfAsync(server, $"/paid.flv?hdnts={valid}", method: "HEAD")));
        Assert.Equal(200, Admission.StatusOf(await Admission.HeadOfAsync(server, "/paid.flv", $"Cookie: theme=dark; hdnts={valid}\r\n")));
        Assert.Equal(200, Admission.StatusOf(await Admission.HeadOfAsync(server, "/free.flv")));
        // No token ever reaches a log line.
        Assert.DoesNotContain(server.Logs.Entries, e => e.Message.Contains("hmac=", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AccessLog_RefusedAndAdmittedWithTokens_ShowsThemRedacted()
    {
        var log = Path.Combine(Path.GetTempPath(), $"savate-access-{Guid.NewGuid():N}.log");
        try
        {
            await using var server = await TestServer.StartAsync($"""
                server:
                  access-log: {log}
                mounts:
                  - path: /paid.flv
                    format: flv
                    fallback:
                      - file: samples/sample.flv
                    listener-auth:
                      token-key: {Admission.Key}
                """);
            var expired = EdgeAuthToken.Create(Convert.FromHexString(Admission.Key), "/paid.flv*", null, DateTimeOffset.UtcNow - TimeSpan.FromMinutes(1));
            Assert.Equal(403, Admission.StatusOf(await Admission.HeadOfAsync(server, $"/paid.flv?hdnts={expired}", "Referer: https://example.com/\r\n")));
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            using var playlist = await http.GetAsync(server.Url($"/paid.flv/index.m3u8?hdnts={Admission.Token("/paid.flv*")}"));
            Assert.Equal(HttpStatusCode.OK, playlist.StatusCode);

            string text = "";
            await Wait.UntilAsync(() =>
            {
                text = File.Exists(log) ? File.ReadAllText(log) : "";
                return text.Contains("\"GET /paid.flv?hdnts=REDACTED HTTP/1.1\" 403", StringComparison.Ordinal)
                    && text.Contains("\"GET /paid.flv/index.m3u8?hdnts=REDACTED HTTP/1.1\" 200", StringComparison.Ordinal);
            }, TimeSpan.FromSeconds(10), "both lines in the access log");
            Assert.DoesNotContain("hmac", text, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(log);
        }
    }

    private static async Task<string> BodyOfAsync(TestServer server, string target)
    {
        await using var client = await RawHttp.ConnectAsync(server.Port);
        await client.SendAsync($"GET {target} HTTP/1.1\r\nHost: savate\r\n\r\n");
        var text = await HostileClientTests.ReadAllAsync(client, TimeSpan.FromSeconds(10));
        Assert.StartsWith("HTTP/1.1 403 ", text, StringComparison.Ordinal);
        return text;
    }
}

/// <summary>HTTP Basic for listeners against a users file (htpasswd -B), ffprobe with user:pass@ as Icecast players do.</summary>
public sealed class AdmissionBasicTests
{
    [Fact]
    public async Task UsersFile_RightWrongMissing_200And401WithChallenge_FfprobeWithUserinfoWorks()
    {
        var users = Admission.UsersFile(("viewer", "s3cret"));
        try
        {
            await using var server = await TestServer.StartAsync($"""
                mounts:
                  - path: /members.flv
                    format: flv
                    fallback:
                      - file: samples/sample.flv
                    listener-auth:
                      users-file: {users}
                """);

            var missing = await Admission.HeadOfAsync(server, "/members.flv");
            Assert.Equal(401, Admission.StatusOf(missing));
            Assert.Contains("WWW-Authenticate: Basic realm=", missing, StringComparison.Ordinal);
            var wrong = await Admission.HeadOfAsync(server, "/members.flv", $"Authorization: {Admission.Basic("viewer", "nope")}\r\n");
            Assert.Equal(401, Admission.StatusOf(wrong));
            Assert.Contains("WWW-Authenticate: Basic", wrong, StringComparison.Ordinal);
            Assert.Equal(200, Admission.StatusOf(await Admission.HeadOfAsync(server, "/members.flv", $"Authorization: {Admission.Basic("viewer", "s3cret")}\r\n")));

            var (width, height) = await Ffmpeg.ProbeVideoSizeAsync($"http://viewer:s3cret@127.0.0.1:{server.Port}/members.flv");
            Assert.True(width > 0 && height > 0, $"ffprobe with user:pass@ saw {width}x{height}");
            Assert.Equal((0, 0), await Ffmpeg.ProbeVideoSizeAsync($"http://viewer:wrong@127.0.0.1:{server.Port}/members.flv"));
            // The wrong password was logged as a refusal, without the password.
            Assert.Contains(server.Logs.Entries, e => e.EventId == 170 && e.Message.Contains("wrong user or password", StringComparison.Ordinal));
            Assert.DoesNotContain(server.Logs.Entries, e => e.Message.Contains("s3cret", StringComparison.Ordinal) || e.Message.Contains("nope", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(users);
        }
    }
}

/// <summary>The on-play / on-publish hooks against an auth server inside the test.</summary>
public sealed class AdmissionHookTests
{
    private static string Config(string hook, string onError = "deny") => $"""
        mounts:
          - path: /hooked.flv
            format: flv
            fallback:
              - file: samples/sample.flv
            listener-auth:
              hook: {hook}
              hook-on-error: {onError}
          - path: /push.flv
            format: flv
            source-auth:
              hook: {hook}
        """;

    [Fact]
    public async Task Hook_AllowDenyErrorsAndOversizedAnswers_DecideAsDocumented()
    {
        await using var hook = await HookServer.StartAsync();
        hook.Answer = call => call.GetProperty("query").GetString() switch
        {
            "case=allow" => new HookReply(200, """{"ok": true}"""),
            "case=deny" => new HookReply(403),
            "case=error" => new HookReply(500),
            "case=slow" => new HookReply(200, Delay: TimeSpan.FromSeconds(6)),
            "case=huge" => new HookReply(200, "{\"pad\":\"" + new string('x', 20_000) + "\"}"),
            _ => new HookReply(403),
        };
        await using var server = await TestServer.StartAsync(Config(hook.Url));

        Assert.Equal(200, Admission.StatusOf(await Admission.HeadOfAsync(server, "/hooked.flv?case=allow", "User-Agent: TestPlayer/1.0\r\n")));
        var deny = await Admission.TextOfAsync(server, "/hooked.flv?case=deny");
        Assert.StartsWith("HTTP/1.1 403 ", deny, StringComparison.Ordinal);
        Assert.Contains($"hook {hook.Url} said no (answered 403)", deny, StringComparison.Ordinal);
        var error = await Admission.TextOfAsync(server, "/hooked.flv?case=error");
        Assert.StartsWith("HTTP/1.1 403 ", error, StringComparison.Ordinal);
        Assert.Contains("said no (answered 500)", error, StringComparison.Ordinal);
        var slow = await Admission.TextOfAsync(server, "/hooked.flv?case=slow");
        Assert.StartsWith("HTTP/1.1 403 ", slow, StringComparison.Ordinal);
        Assert.Contains("did not answer within 3 s (hook-on-error: deny)", slow, StringComparison.Ordinal);
        var huge = await Admission.TextOfAsync(server, "/hooked.flv?case=huge");
        Assert.StartsWith("HTTP/1.1 403 ", huge, StringComparison.Ordinal);
        Assert.Contains("more than 16384 bytes (hook-on-error: deny)", huge, StringComparison.Ordinal);

        var first = hook.Calls.First();
        Assert.Equal("play", first.GetProperty("action").GetString());
        Assert.Equal("/hooked.flv", first.GetProperty("mount").GetString());
        Assert.StartsWith("127.0.0.1:", first.GetProperty("client").GetString(), StringComparison.Ordinal);
        Assert.Equal("TestPlayer/1.0", first.GetProperty("user_agent").GetString());
        Assert.Equal(JsonValueKind.Null, first.GetProperty("user").ValueKind);
        // The log says which hook said no, and why it failed (each once a minute per address and mount, or per hook).
        Assert.Contains(server.Logs.Entries, e => e.EventId == 170 && e.Message.Contains($"hook {hook.Url} said no", StringComparison.Ordinal));
        Assert.Contains(server.Logs.Entries, e => e.EventId == 172 && e.Message.Contains("did not answer within 3 s", StringComparison.Ordinal));

        // Answers are remembered a few seconds per (mount, client, query): the same allowed request asks no more.
        var calls = hook.Calls.Count;
        Assert.Equal(200, Admission.StatusOf(await Admission.HeadOfAsync(server, "/hooked.flv?case=allow")));
        Assert.Equal(calls, hook.Calls.Count);
    }

    [Fact]
    public async Task Hook_Unreachable_OnErrorAllowLetsListenersIn()
    {
        // A port nothing listens on: the connection is refused at once.
        var port = TestServer.FreePort();
        await using var server = await TestServer.StartAsync(Config($"http://127.0.0.1:{port}/hook", onError: "allow"));

        Assert.Equal(200, Admission.StatusOf(await Admission.HeadOfAsync(server, "/hooked.flv")));
        Assert.Contains(server.Logs.Entries, e => e.EventId == 172 && e.Message.Contains("allowed by hook-on-error", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Hook_Duration_EndsTheListenerThen()
    {
        await using var hook = await HookServer.StartAsync();
        hook.Answer = _ => new HookReply(200, """{"duration": 2}""");
        await using var server = await TestServer.StartAsync(Config(hook.Url));
        await using var client = await RawHttp.ConnectAsync(server.Port);
        await client.SendAsync("GET /hooked.flv?who=limited HTTP/1.1\r\nHost: savate\r\n\r\n");
        var (head, _) = await client.ReadHeadAsync(TimeSpan.FromSeconds(15));
        Assert.Equal(200, Admission.StatusOf(head));
        var mount = server.Registry.Find("/hooked.flv")!;
        await Wait.UntilAsync(() => mount.ListenerCount == 1, TimeSpan.FromSeconds(10), "the listener to join");

        // The stream runs, then the server ends it (a FIN after the media sent), and the listener is gone.
        Assert.True(await client.WaitClosedAsync(TimeSpan.FromSeconds(20)), "the listener was not ended after the hook's duration");
        await Wait.UntilAsync(() => mount.ListenerCount == 0, TimeSpan.FromSeconds(10), "the listener to leave");
    }

    [Fact]
    public async Task SourceHook_Duration_DropsTheSourceThen()
    {
        await using var hook = await HookServer.StartAsync();
        hook.Answer = _ => new HookReply(200, """{"duration": 3}""");
        await using var server = await TestServer.StartAsync(Config(hook.Url));
        using var push = Ffmpeg.PushFlvChunkedPost($"http://127.0.0.1:{server.Port}/push.flv");
        var mount = server.Registry.Find("/push.flv")!;
        await Wait.UntilAsync(() => mount.Source is not null, TimeSpan.FromSeconds(15), "the source to be admitted");

        await Wait.UntilAsync(() => push.HasExited, TimeSpan.FromSeconds(30), "ffmpeg to be cut off after the hook's duration");
        Assert.Null(mount.Source);
        Assert.Contains(server.Logs.Entries, e => e.Message.Contains("its auth hook's duration is over", StringComparison.Ordinal));
    }

    [Fact]
    public async Task SourceHook_Denies_FfmpegPushIsRefusedWith403AndTheLogNamesTheHook()
    {
        await using var hook = await HookServer.StartAsync();
        hook.Answer = call => new HookReply(call.GetProperty("action").GetString() == "publish" ? 403 : 204);
        await using var server = await TestServer.StartAsync(Config(hook.Url));
        using var push = Ffmpeg.PushFlvChunkedPost($"http://127.0.0.1:{server.Port}/push.flv");

        await Wait.UntilAsync(() => push.HasExited, TimeSpan.FromSeconds(20), "ffmpeg to give up on the refused source");

        Assert.NotEqual(0, push.ExitCode);
        Assert.Null(server.Registry.Find("/push.flv")!.Source);
        var refusal = Assert.Single(server.Logs.Entries, e => e.EventId == 140);
        Assert.Contains("403", refusal.Message, StringComparison.Ordinal);
        Assert.Contains($"hook {hook.Url} said no", refusal.Message, StringComparison.Ordinal);
        var call = hook.Calls.First(c => c.GetProperty("action").GetString() == "publish");
        Assert.Equal("/push.flv", call.GetProperty("mount").GetString());
    }
}

/// <summary>IP rules, trusted proxies and referers, seen in decisions and in the admin listener list.</summary>
public sealed class AdmissionAddressTests
{
    [Fact]
    public async Task ListenerIp_CidrDeny_RefusesTheListenerFrom127002While127001Streams()
    {
        await using var server = await TestServer.StartAsync("""
            server:
              listener-ip: { allow: ["127.0.0.0/8"] }
            mounts:
              - path: /lan.flv
                format: flv
                fallback:
                  - file: samples/sample.flv
                listener-ip: { deny: ["127.0.0.2/32"] }
            """);

        var refused = await Admission.HeadOfAsync(server, "/lan.flv", from: IPAddress.Parse("127.0.0.2"));
        Assert.Equal(403, Admission.StatusOf(refused));
        var decoded = await Ffmpeg.DecodeAsync(server.Url("/lan.flv").ToString(), seconds: 2);
        Assert.True(decoded.ExitCode == 0 && decoded.VideoFrames > 10, decoded.ToString());
        Assert.Contains(server.Logs.Entries, e => e.EventId == 170 && e.Message.Contains("127.0.0.2 may not listen", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ForwardedFor_HonouredFromTrustedProxy_IgnoredFromOthers_InDecisionsAndTheAdminList()
    {
        await using var server = await TestServer.StartAsync("""
            server:
              admin-password: admin-secret
              trusted-proxies: ["127.0.0.1/32"]
            mounts:
              - path: /live.flv
                format: flv
                fallback:
                  - file: samples/sample.flv
                listener-ip: { deny: ["203.0.113.0/24"] }
            """);

        // From the trusted proxy: the forwarded client decides (and the right-most untrusted hop is the client).
        Assert.Equal(403, Admission.StatusOf(await Admission.HeadOfAsync(server, "/live.flv", "X-Forwarded-For: 198.51.100.1, 203.0.113.7\r\n")));
        Assert.Equal(403, Admission.StatusOf(await Admission.HeadOfAsync(server, "/live.flv", "Forwarded: for=\"203.0.113.8:4711\";proto=http\r\n")));
        // From anyone else the header is ignored: 127.0.0.2 is not denied, whatever it claims.
        await using var untrusted = await HostileClientTests.ConnectFromAsync(server.Port, IPAddress.Parse("127.0.0.2"));
        await untrusted.SendAsync("GET /live.flv HTTP/1.1\r\nHost: savate\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n");
        Assert.Equal(200, Admission.StatusOf((await untrusted.ReadHeadAsync(TimeSpan.FromSeconds(15))).Head));
        await using var proxied = await RawHttp.ConnectAsync(server.Port);
        await proxied.SendAsync("GET /live.flv HTTP/1.1\r\nHost: savate\r\nX-Forwarded-For: 203.0.113.9, 198.51.100.20\r\n\r\n");
        Assert.Equal(200, Admission.StatusOf((await proxied.ReadHeadAsync(TimeSpan.FromSeconds(15))).Head));

        var mount = server.Registry.Find("/live.flv")!;
        await Wait.UntilAsync(() => mount.ListenerCount == 2, TimeSpan.FromSeconds(10), "both listeners to join");
        using var http = new HttpClient { BaseAddress = server.BaseUri, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.ASCII.GetBytes("admin:admin-secret")));
        var list = await http.GetStringAsync(new Uri("/admin/listeners?mount=/live.flv", UriKind.Relative));
        Assert.Contains("\"198.51.100.20:", list, StringComparison.Ordinal);
        Assert.Contains("\"127.0.0.2:", list, StringComparison.Ordinal);
        Assert.DoesNotContain("203.0.113.9", list, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Referers_OutsideTheList_403_InsideOrAbsent_200()
    {
        await using var server = await TestServer.StartAsync("""
            mounts:
              - path: /embed.flv
                format: flv
                fallback:
                  - file: samples/sample.flv
                referers: ["https://example.com"]
            """);

        Assert.Equal(403, Admission.StatusOf(await Admission.HeadOfAsync(server, "/embed.flv", "Referer: https://evil.example/page.html\r\n")));
        Assert.Equal(403, Admission.StatusOf(await Admission.HeadOfAsync(server, "/embed.flv", "Origin: https://example.com.evil.example\r\n")));
        Assert.Equal(200, Admission.StatusOf(await Admission.HeadOfAsync(server, "/embed.flv", "Referer: https://example.com/watch?v=1\r\n")));
        Assert.Equal(200, Admission.StatusOf(await Admission.HeadOfAsync(server, "/embed.flv", "Origin: https://EXAMPLE.com:443\r\n")));
        // ffplay, VLC and relays send neither header: let in.
        Assert.Equal(200, Admission.StatusOf(await Admission.HeadOfAsync(server, "/embed.flv")));
        // HLS is held to the same list.
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        using var request = new HttpRequestMessage(HttpMethod.Get, server.Url("/embed.flv/index.m3u8"));
        request.Headers.Referrer = new Uri("https://evil.example/");
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }
}

/// <summary>HLS playlists and segments under a token, and a reload that changes the rules.</summary>
public sealed class AdmissionHlsTests
{
    private static readonly string Config = $"""
        mounts:
          - path: /paid.flv
            format: flv
            fallback:
              - file: samples/sample.flv
            hls:
              segment-duration: 1s
            listener-auth:
              token-key: {Admission.Key}
        """;

    [Fact]
    public async Task Hls_PlaylistCarriesTheTokenOntoSegments_SegmentsNeedIt_FfmpegDecodes()
    {
        await using var server = await TestServer.StartAsync(Config);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var token = Admission.Token("/paid.flv*");
        var query = $"hdnts={token}";

        using (var bare = await http.GetAsync(server.Url("/paid.flv/index.m3u8")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, bare.StatusCode);
        }
        using var playlistResponse = await http.GetAsync(server.Url($"/paid.flv/index.m3u8?{query}"));
        Assert.Equal(HttpStatusCode.OK, playlistResponse.StatusCode);
        // Per viewer: no shared cache may keep it.
        Assert.True(playlistResponse.Headers.CacheControl?.Private, playlistResponse.Headers.CacheControl?.ToString());
        var playlist = await playlistResponse.Content.ReadAsStringAsync();
        var segments = playlist.Split('\n').Where(l => l.Length > 0 && l[0] != '#').ToList();
        Assert.NotEmpty(segments);
        Assert.All(segments, s => Assert.EndsWith($"?{query}", s, StringComparison.Ordinal));

        var segment = segments[^1];
        var name = segment[..segment.IndexOf('?', StringComparison.Ordinal)];
        using (var withToken = await http.GetAsync(server.Url($"/paid.flv/{segment}")))
        {
            Assert.Equal(HttpStatusCode.OK, withToken.StatusCode);
            Assert.True((await withToken.Content.ReadAsByteArrayAsync()).Length > 188);
        }
        using (var without = await http.GetAsync(server.Url($"/paid.flv/{name}")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, without.StatusCode);
        }
        using (var cookie = new HttpRequestMessage(HttpMethod.Get, server.Url($"/paid.flv/{name}")))
        {
            cookie.Headers.Add("Cookie", $"hdnts={token}");
            using var viaCookie = await http.SendAsync(cookie);
            Assert.Equal(HttpStatusCode.OK, viaCookie.StatusCode);
        }
        var wrongAcl = Admission.Token("/other.flv*");
        using (var other = await http.GetAsync(server.Url($"/paid.flv/{name}?hdnts={wrongAcl}")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
        }

        var decoded = await Ffmpeg.DecodeAsync(server.Url($"/paid.flv/index.m3u8?{query}").ToString(), seconds: 2);
        Assert.True(decoded.ExitCode == 0 && decoded.VideoFrames > 10, decoded.ToString());
    }

    [Fact]
    public async Task Reload_AddsAndRemovesListenerAuth_TheNextListenerSeesTheNewRules()
    {
        var folder = Path.Combine(Path.GetTempPath(), $"savate-auth-reload-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        var configPath = Path.Combine(folder, "savate.yaml");
        var open = $"""
            server:
              watch-config: false
            mounts:
              - path: /live.flv
                format: flv
                fallback:
                  - file: {AppContext.BaseDirectory}samples/sample.flv
            """;
        try
        {
            await File.WriteAllTextAsync(configPath, open);
            await using var server = await TestServer.StartFromFileAsync(configPath);
            Assert.Equal(200, Admission.StatusOf(await Admission.HeadOfAsync(server, "/live.flv")));

            await File.WriteAllTextAsync(configPath, open + $"""

                    listener-auth:
                      token-key: {Admission.Key}
                    listener-ip: {"{"} deny: ["127.0.0.2"] {"}"}
                """);
            var result = await server.Reloader.ReloadAsync("test");
            Assert.True(result.Success, string.Join("; ", result.Errors));
            Assert.Contains(result.Changes, c => c.Contains("listener-auth", StringComparison.Ordinal));
            Assert.DoesNotContain(result.Changes, c => c.Contains(Admission.Key, StringComparison.Ordinal));

            Assert.Equal(403, Admission.StatusOf(await Admission.HeadOfAsync(server, "/live.flv")));
            Assert.Equal(200, Admission.StatusOf(await Admission.HeadOfAsync(server, $"/live.flv?hdnts={Admission.Token("/live.flv*")}")));
            Assert.Equal(403, Admission.StatusOf(await Admission.HeadOfAsync(server, $"/live.flv?hdnts={Admission.Token("/live.flv*")}", from: IPAddress.Parse("127.0.0.2"))));

            await File.WriteAllTextAsync(configPath, open);
            Assert.True((await server.Reloader.ReloadAsync("test")).Success);
            Assert.Equal(200, Admission.StatusOf(await Admission.HeadOfAsync(server, "/live.flv", from: IPAddress.Parse("127.0.0.2"))));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}

/// <summary>A slave's relays pulling from a master whose mount has listener-auth: the relay password, a token in the URL.</summary>
public sealed class AdmissionRelayTests
{
    [Fact]
    public async Task Relays_AuthenticateWithTheRelayPasswordOrATokenUrl_AndWithoutEitherAreRefused()
    {
        await using var master = await TestServer.StartAsync($"""
            server:
              relay-password: relay-secret
            mounts:
              - path: /paid.flv
                format: flv
                fallback:
                  - file: samples/sample.flv
                listener-auth:
                  token-key: {Admission.Key}
            """);
        var token = Admission.Token("/paid.flv*");
        await using var discovering = await TestServer.StartAsync($"""
            master:
              url: http://127.0.0.1:{master.Port}
              username: relay
              password: relay-secret
              poll-interval: 1s
              on-demand: false
            """);
        await using var relaying = await TestServer.StartAsync($"""
            relays:
              - mount: /tokened.flv
                upstreams: ["http://127.0.0.1:{master.Port}/paid.flv?hdnts={token}"]
                on-demand: false
              - mount: /bare.flv
                upstreams: ["http://127.0.0.1:{master.Port}/paid.flv"]
                on-demand: false
            """);

        await Wait.UntilAsync(() => discovering.Registry.Find("/paid.flv") is not null, TimeSpan.FromSeconds(10), "the slave to discover /paid.flv");
        await LiveFanOutTests.WaitForMediaAsync(discovering, "/paid.flv", mediaMs: 1000);
        await LiveFanOutTests.WaitForMediaAsync(relaying, "/tokened.flv", mediaMs: 1000);
        await Wait.UntilAsync(() => relaying.Relays.Statuses.Any(s => s.Mount == "/bare.flv" && s.LastError?.Contains("403", StringComparison.Ordinal) == true),
            TimeSpan.FromSeconds(10), "the relay without credentials to be refused");

        // The token stays out of status and logs.
        Assert.All(relaying.Relays.Statuses, s => Assert.DoesNotContain("hmac", s.Upstream ?? "", StringComparison.Ordinal));
        Assert.DoesNotContain(relaying.Logs.Entries, e => e.Message.Contains("hmac=", StringComparison.Ordinal));
        Assert.Null(relaying.Registry.Find("/bare.flv")?.Source);
    }
}

using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Savate.Server.Auth;

/// <summary>What a hook said.</summary>
internal enum HookVerdict
{
    /// <summary>A 2xx answer.</summary>
    Allow,

    /// <summary>Any other status.</summary>
    Deny,

    /// <summary>No usable answer: timeout, connection failure, an answer over <see cref="AuthHook.MaxAnswerBytes"/>.</summary>
    Error,
}

/// <summary>A hook's answer: the verdict, what to say about it, and a time limit from a 2xx's JSON <c>duration</c>.</summary>
internal readonly record struct HookAnswer(HookVerdict Verdict, string Detail, TimeSpan? TimeLimit = null);

/// <summary>What Savate tells a hook (the JSON body of its POST).</summary>
internal readonly record struct HookRequest(string Action, string Mount, string Client, string? UserAgent, string? Query, string? User);

/// <summary>
/// The <c>hook</c> of listener-auth and source-auth: Savate POSTs
/// <c>{"action":"play"|"publish","mount":...,"client":...,"user_agent":...,"query":...,"user":...}</c> and a 2xx answer
/// allows (its JSON may carry <c>{"duration": seconds}</c>, after which a listener is ended); any other status denies;
/// a timeout (<see cref="Timeout"/>), a connection error or an answer larger than <see cref="MaxAnswerBytes"/> is an error.
/// Every forwarded value is cut to <see cref="MaxFieldLength"/>. Definite answers (allow or deny, not errors) are
/// remembered for <see cref="CacheFor"/> per (hook, action, mount, client address, query, user), so a player that
/// fetches an HLS segment every two seconds, or a reconnecting one, costs the auth server one call every few seconds.
/// One <see cref="HttpClient"/> on one <see cref="SocketsHttpHandler"/> for the process (connections pooled and
/// renewed every two minutes, so a hook's DNS change is seen).
/// </summary>
internal sealed class AuthHook(TimeProvider time)
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(5);
    public const int MaxAnswerBytes = 16 * 1024;
    public const int MaxFieldLength = 1024;
    private const int MaxCached = 10_000;

    private static readonly HttpClient s_client = new(new SocketsHttpHandler
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        ConnectTimeout = Timeout,
        AllowAutoRedirect = false,
        UseCookies = false,
        MaxResponseHeadersLength = 16,
    })
    {
        Timeout = System.Threading.Timeout.InfiniteTimeSpan,
        MaxResponseContentBufferSize = MaxAnswerBytes,
    };

    private readonly ConcurrentDictionary<string, (HookAnswer Answer, long At)> _cache = new(StringComparer.Ordinal);

    /// <summary>Asks <paramref name="url"/> (or remembers its answer).</summary>
    public async ValueTask<HookAnswer> AskAsync(string url, HookRequest request, string clientAddress, CancellationToken cancellationToken)
    {
        // The values as the hook sees them (capped): the table holds at most MaxCached keys of a few KiB each.
        var key = string.Join('\u0001', url, request.Action, request.Mount, Cap(clientAddress), Cap(request.Query) ?? "", Cap(request.User) ?? "");
        var now = time.GetTimestamp();
        if (_cache.TryGetValue(key, out var cached) && time.GetElapsedTime(cached.At, now) < CacheFor)
        {
            return cached.Answer;
        }
        var answer = await CallAsync(url, request, cancellationToken).ConfigureAwait(false);
        if (answer.Verdict != HookVerdict.Error)
        {
            if (_cache.Count >= MaxCached)
            {
                _cache.Clear();
            }
            _cache[key] = (answer, time.GetTimestamp());
        }
        return answer;
    }

    private static async Task<HookAnswer> CallAsync(string url, HookRequest request, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        try
        {
            using var message = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(Body(request)) };
            message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await s_client.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            if (response.Content.Headers.ContentLength > MaxAnswerBytes)
            {
                return new HookAnswer(HookVerdict.Error, $"answered {status} with {response.Content.Headers.ContentLength} bytes (more than {MaxAnswerBytes})");
            }
            var body = await ReadBoundedAsync(response.Content, timeout.Token).ConfigureAwait(false);
            if (body is null)
            {
                return new HookAnswer(HookVerdict.Error, $"answered {status} with more than {MaxAnswerBytes} bytes");
            }
            if (status is < 200 or > 299)
            {
                return new HookAnswer(HookVerdict.Deny, $"answered {status}");
            }
            return new HookAnswer(HookVerdict.Allow, $"answered {status}", DurationOf(body));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new HookAnswer(HookVerdict.Error, $"did not answer within {Timeout.TotalSeconds:0.#} s");
        }
        catch (HttpRequestException e)
        {
            return new HookAnswer(HookVerdict.Error, $"failed: {e.Message}");
        }
        catch (IOException e)
        {
            return new HookAnswer(HookVerdict.Error, $"failed: {e.Message}");
        }
    }

    private static async Task<byte[]?> ReadBoundedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var buffer = new byte[MaxAnswerBytes + 1];
            var total = 0;
            while (total < buffer.Length)
            {
                var n = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    return buffer[..total];
                }
                total += n;
            }
            return null;
        }
    }

    /// <summary><c>{"duration": 60}</c> (seconds, a positive number) in a 2xx answer; anything else: no limit.</summary>
    internal static TimeSpan? DurationOf(ReadOnlySpan<byte> body)
    {
        if (body.IsEmpty)
        {
            return null;
        }
        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 8 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isDuration = reader.ValueTextEquals("duration"u8);
                if (!reader.Read())
                {
                    return null;
                }
                if (isDuration && reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out var seconds) && seconds > 0 && seconds < TimeSpan.MaxValue.TotalSeconds / 2)
                {
                    return TimeSpan.FromSeconds(seconds);
                }
                reader.Skip();
            }
        }
        catch (JsonException)
        {
        }
        return null;
    }

    private static byte[] Body(HookRequest request)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteString("action", request.Action);
            json.WriteString("mount", Cap(request.Mount));
            json.WriteString("client", Cap(request.Client));
            json.WriteString("user_agent", Cap(request.UserAgent));
            json.WriteString("query", Cap(request.Query));
            json.WriteString("user", Cap(request.User));
            json.WriteEndObject();
        }
        return stream.ToArray();
    }

    private static string? Cap(string? value) => value is null || value.Length <= MaxFieldLength ? value : value[..MaxFieldLength];

    /// <summary>The hook's URL as logs show it: no userinfo, no query (either may hold a secret).</summary>
    public static string Display(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri.GetLeftPart(UriPartial.Path) : "hook";
}

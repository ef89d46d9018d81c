using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;
using Savate.Relay.Upstream;

namespace Savate.Relay;

/// <summary>
/// The pull loop of one mount: Idle → Connecting → Streaming → (body ends) → reconnect, with a Polly retry
/// (exponential backoff, jitter) over rounds of upstreams, a Polly circuit breaker per upstream and a Polly
/// timeout on connect + response headers. See README.md for the state machine.
/// </summary>
internal sealed class RelayWorker : IAsyncDisposable
{
    private static readonly ProductInfoHeaderValue s_userAgent = new("Savate-Relay", "1.0");

    private RelayOptions _options;
    private readonly IRelayHost _host;
    private readonly HttpClient _client;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private UpstreamEndpoint[] _upstreams;
    private readonly ResiliencePipeline<AttemptOutcome> _retry;
    private readonly ResiliencePipeline _connectTimeout;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _lock = new();

    private Task _run = Task.CompletedTask;
    private RelayState _state;
    private string? _upstream;
    private long _connects;
    private long _reconnects;
    private string? _lastError;
    private DateTimeOffset _since;
    private UpstreamEndpoint? _current;
    private CancellationTokenSource? _session;

    // A run of identical failures, logged once (with a count per interval).
    private readonly RepeatLog _failures;

    // Touched only by the loop task.
    private ITimer? _stableTimer;
    private bool _firstOfSession;
    private bool _idleLogged;

    public RelayWorker(RelayOptions options, IRelayHost host, HttpClient client, ILogger logger, TimeProvider time)
    {
        _options = options;
        _host = host;
        _client = client;
        _logger = logger;
        _time = time;
        _since = time.GetUtcNow();
        _upstreams = options.Upstreams.Select(u => new UpstreamEndpoint(u, options.Username, options.Password)).ToArray();
        _upstream = _upstreams.Length > 0 ? _upstreams[0].Display : null;
        _failures = new RepeatLog(time, options.RepeatedFailureLogInterval);
        foreach (var upstream in _upstreams)
        {
            upstream.Breaker = BuildBreaker(upstream);
            upstream.OpenLog = new RepeatLog(time, options.RepeatedFailureLogInterval);
        }

        _connectTimeout = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddTimeout(options.ConnectTimeout)
            .Build();

        _retry = new ResiliencePipelineBuilder<AttemptOutcome> { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions<AttemptOutcome>
            {
                // Everything but a healthy stream that ended is retried; exceptions (cancellation) are not.
                ShouldHandle = static args => ValueTask.FromResult(args.Outcome.Exception is null && args.Outcome.Result.Kind != AttemptKind.Healthy),
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.FirstRetryDelay,
                MaxDelay = options.MaxRetryDelay,
                // 401/403 will not fix itself in a second, and a refused feed means a local source is on the mount.
                // With every circuit open, the break is real: the next round waits for the first to let one through.
                DelayGenerator = args => ValueTask.FromResult<TimeSpan?>(args.Outcome.Result.Kind switch
                {
                    AttemptKind.AuthFailed or AttemptKind.LocalRefused => options.MaxRetryDelay,
                    AttemptKind.AllCircuitsOpen => UntilFirstCircuitLetsThrough(),
                    _ => null,
                }),
                OnRetry = args =>
                {
                    OnRetry(args.Outcome.Result, args.AttemptNumber, args.RetryDelay);
                    return default;
                },
            })
            .Build();
    }

    public string Mount => _options.Mount;

    public RelayOptions Options => Volatile.Read(ref _options);

    /// <summary>
    /// Takes a new upstream list (and settings) from a reload. The connection in progress is kept when its upstream
    /// is still listed (the next connection uses the new list); when its upstream was removed, the session ends and
    /// the relay reconnects through the new list at once. Returns true when it reconnects.
    /// </summary>
    public bool Repoint(RelayOptions options)
    {
        var old = _upstreams;
        var upstreams = options.Upstreams.Select(u => Array.Find(old, e => e.Source == u && options.Username == _options.Username && options.Password == _options.Password)
            ?? NewEndpoint(u, options)).ToArray();
        CancellationTokenSource? session;
        lock (_lock)
        {
            Volatile.Write(ref _options, options);
            Volatile.Write(ref _upstreams, upstreams);
            var connected = _state is RelayState.Connecting or RelayState.Streaming && _current is not null;
            session = connected && !upstreams.Contains(_current) ? _session : null;
        }
        if (session is null)
        {
            return false;
        }
        RelayLog.Repointed(_logger, options.Mount, _current?.Display ?? "");
        try
        {
            session.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The session ended meanwhile: the next one uses the new list anyway.
        }
        return true;
    }

    private UpstreamEndpoint NewEndpoint(Uri uri, RelayOptions options)
    {
        var endpoint = new UpstreamEndpoint(uri, options.Username, options.Password);
        endpoint.Breaker = BuildBreaker(endpoint);
        return endpoint;
    }

    public void Start() => _run = Task.Run(() => RunAsync(_stop.Token));

    public RelayStatus GetStatus()
    {
        lock (_lock)
        {
            return new RelayStatus(_options.Mount, _state, _upstream, _connects, _reconnects, _lastError, _since, _options.OnDemand);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync().ConfigureAwait(false);
        }

        await _run.ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task RunAsync(CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    if (_options.OnDemand)
                    {
                        EnterIdle();
                        if (_host.GetListenerCount(_options.Mount) <= 0)
                        {
                            await _host.WaitForListenersAsync(_options.Mount, stop).ConfigureAwait(false);
                        }
                    }

                    using var session = CancellationTokenSource.CreateLinkedTokenSource(stop);
                    lock (_lock)
                    {
                        _session = session;
                    }
                    var watcher = _options.OnDemand ? WatchListenersAsync(session) : Task.CompletedTask;
                    try
                    {
                        await RunSessionAsync(session.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (session.IsCancellationRequested && !stop.IsCancellationRequested)
                    {
                        // The listener watcher ended the session: back to Idle.
                    }
                    finally
                    {
                        await session.CancelAsync().ConfigureAwait(false);
                        await watcher.ConfigureAwait(false);
                        lock (_lock)
                        {
                            _session = null;
                        }
                    }
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception ex)
                {
                    // Only host calls can get here (attempts return outcomes); do not spin on a broken host.
                    RelayLog.HostFailed(_logger, _options.Mount, ex);
                    try
                    {
                        await Task.Delay(_options.MaxRetryDelay, _time, stop).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                }
            }
        }
        finally
        {
            SetState(RelayState.Stopped, null);
            RelayLog.Stopped(_logger, _options.Mount);
        }
    }

    /// <summary>One pull session: from leaving Idle until no listener remains (or forever, when not on-demand).</summary>
    private async Task RunSessionAsync(CancellationToken token)
    {
        _firstOfSession = true;
        _failures.TryEnd(out _);
        SetState(RelayState.Connecting, _upstreams[0].Display);
        RelayLog.Connecting(_logger, _options.Mount, _upstreams[0].Display);
        while (true)
        {
            // Returns only a healthy stream that ended; failures are retried inside with backoff.
            var ended = await _retry.ExecuteAsync(static (worker, ct) => worker.RunRoundAsync(ct), this, token).ConfigureAwait(false);
            if (_options.OnDemand && _host.GetListenerCount(_options.Mount) <= 0)
            {
                return;
            }

            // Listeners are waiting: reconnect at once, starting again from the first (preferred) upstream.
            RelayLog.UpstreamLost(_logger, _options.Mount, ended.Upstream, ended.Reason);
            SetState(RelayState.Connecting, _upstreams[0].Display);
        }
    }

    /// <summary>
    /// One round: each upstream in order whose circuit is closed, until one streams. When every circuit is open
    /// the round tries none: it returns <see cref="AttemptKind.AllCircuitsOpen"/>, and the retry waits until the
    /// first circuit lets an attempt through. The pause the log announces ("skipping it for 30 s") is real.
    /// </summary>
    private async ValueTask<AttemptOutcome> RunRoundAsync(CancellationToken token)
    {
        AttemptOutcome? last = null;
        var allAuth = true;
        List<UpstreamEndpoint>? skipped = null;
        foreach (var upstream in _upstreams)
        {
            AttemptOutcome outcome;
            try
            {
                outcome = await upstream.Breaker.ExecuteAsync(
                    static (state, ct) => state.Worker.AttemptAsync(state.Upstream, ct),
                    (Worker: this, Upstream: upstream),
                    token).ConfigureAwait(false);
            }
            catch (BrokenCircuitException)
            {
                RelayLog.AttemptFailed(_logger, _options.Mount, upstream.Display, "circuit open, skipped");
                (skipped ??= []).Add(upstream);
                continue;
            }

            if (outcome.Kind is AttemptKind.Healthy or AttemptKind.LocalRefused)
            {
                return outcome;
            }

            last = outcome;
            allAuth &= outcome.Kind == AttemptKind.AuthFailed;
        }

        if (last is null && skipped is not null)
        {
            var delay = UntilFirstCircuitLetsThrough();
            RelayLog.AllCircuitsOpen(_logger, _options.Mount, delay);
            // The same failure as the one that opened the circuit, so that a run of them is logged once.
            var opened = skipped[0];
            return (opened.LastFailure ?? new AttemptOutcome(AttemptKind.Failed, opened.Display, "circuit open")) with { Kind = AttemptKind.AllCircuitsOpen };
        }

        var failed = last!.Value;
        return allAuth ? failed : failed with { Kind = AttemptKind.Failed };
    }

    /// <summary>Connects to one upstream and feeds its body to the host. Returns an outcome; throws only on cancellation.</summary>
    private async ValueTask<AttemptOutcome> AttemptAsync(UpstreamEndpoint upstream, CancellationToken token)
    {
        SetState(RelayState.Connecting, upstream.Display);
        lock (_lock)
        {
            _current = upstream;
        }
        using var request = new HttpRequestMessage(HttpMethod.Get, upstream.RequestUri);
        request.Headers.Authorization = upstream.Authorization;
        request.Headers.UserAgent.Add(s_userAgent);

        HttpResponseMessage response;
        try
        {
            response = await _connectTimeout.ExecuteAsync(
                static async (state, ct) => await state.Client.SendAsync(state.Request, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false),
                (Client: _client, Request: request),
                token).ConfigureAwait(false);
        }
        catch (TimeoutRejectedException)
        {
            return Fail(upstream, AttemptKind.Failed, $"connect timeout ({_options.ConnectTimeout.TotalMilliseconds:0} ms)");
        }
        catch (HttpRequestException ex)
        {
            return Fail(upstream, AttemptKind.Failed, ex.Message);
        }
        catch (OperationCanceledException ex) when (!token.IsCancellationRequested)
        {
            // SocketsHttpHandler.ConnectTimeout surfaces as a cancellation of our own request.
            return Fail(upstream, AttemptKind.Failed, ex.InnerException?.Message ?? "connect timeout");
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                var code = (int)response.StatusCode;
                var kind = response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden ? AttemptKind.AuthFailed : AttemptKind.Failed;
                return Fail(upstream, kind, $"HTTP {code} {response.ReasonPhrase}");
            }

            lock (_lock)
            {
                _connects++;
                if (!_firstOfSession)
                {
                    _reconnects++;
                }
            }

            _firstOfSession = false;
            var contentType = response.Content.Headers.ContentType?.ToString();
            Stream body;
            try
            {
                body = await response.Content.ReadAsStreamAsync(token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException)
            {
                return Fail(upstream, AttemptKind.Failed, ex.Message);
            }

            var firstByteAt = (DateTimeOffset?)null;
            var timed = new IdleTimeoutStream(body, _options.FirstByteTimeout, _options.IdleReadTimeout, _time, () =>
            {
                firstByteAt = _time.GetUtcNow();
                OnStreaming(upstream, contentType);
            });
            await using (timed.ConfigureAwait(false))
            using (new StableTimerScope(this))
            {
                // Stopping closes the connection even if the host does not observe the token.
                await using var abort = token.UnsafeRegister(static r => ((HttpResponseMessage)r!).Dispose(), response).ConfigureAwait(false);
                RelayFeedResult result;
                Exception? feedError = null;
                try
                {
                    result = await _host.FeedAsync(_options.Mount, contentType, timed, token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    throw;
                }
                catch (Exception ex) when (ex is IOException or HttpRequestException or OperationCanceledException)
                {
                    feedError = ex;
                    result = RelayFeedResult.Ended;
                }

                token.ThrowIfCancellationRequested();
                switch (result)
                {
                    case RelayFeedResult.Refused:
                        return Fail(upstream, AttemptKind.LocalRefused, "mount has another source");
                    case RelayFeedResult.BadData:
                        return Fail(upstream, AttemptKind.Failed, "not FLV or MPEG-TS");
                }

                var reason = timed.TimeoutMessage ?? feedError?.Message ?? "end of stream";
                var streamed = firstByteAt is { } start ? _time.GetUtcNow() - start : TimeSpan.Zero;
                if (firstByteAt is not null && streamed >= _options.StableAfter)
                {
                    SetError(reason);
                    OnStable(upstream, contentType);
                    return new AttemptOutcome(AttemptKind.Healthy, upstream.Display, reason);
                }

                return Fail(upstream, AttemptKind.Failed, firstByteAt is null ? reason : $"{reason} after {streamed.TotalMilliseconds:0} ms", reason);
            }
        }
    }

    // cause: the reason without its varying details (durations), when they differ: identical causes are one failure, repeated.
    private AttemptOutcome Fail(UpstreamEndpoint upstream, AttemptKind kind, string reason, string? cause = null)
    {
        SetError($"{upstream.Display}: {reason}");
        RelayLog.AttemptFailed(_logger, _options.Mount, upstream.Display, reason);
        var outcome = new AttemptOutcome(kind, upstream.Display, reason, cause);
        if (kind != AttemptKind.LocalRefused)
        {
            upstream.LastFailure = outcome;
        }
        return outcome;
    }

    private void OnRetry(AttemptOutcome outcome, int attempt, TimeSpan delay)
    {
        SetState(RelayState.BackingOff, null);
        // Logged once per run of identical failures (then with a count, once per interval); each retry is Debug.
        if (_failures.ShouldLog(outcome.FailureKey, out var repeats))
        {
            var error = GetStatus().LastError ?? outcome.Reason;
            if (repeats == 0)
            {
                RelayLog.BackingOff(_logger, _options.Mount, error);
            }
            else
            {
                RelayLog.StillFailing(_logger, _options.Mount, error, repeats, _options.RepeatedFailureLogInterval);
            }
        }

        RelayLog.RetryScheduled(_logger, _options.Mount, attempt + 1, outcome.Reason, delay);
    }

    private void OnStreaming(UpstreamEndpoint upstream, string? contentType)
    {
        SetState(RelayState.Streaming, upstream.Display);
        if (!_failures.Active)
        {
            RelayLog.Streaming(_logger, _options.Mount, upstream.Display, contentType);
            return;
        }

        // After failures, a first byte proves little (an upstream that sends a header and then fails does so every
        // time): the recovery is logged once the stream has lasted StableAfter.
        _stableTimer?.Dispose();
        _stableTimer = _time.CreateTimer(
            static state =>
            {
                var (worker, endpoint, type) = ((RelayWorker, UpstreamEndpoint, string?))state!;
                worker.OnStable(endpoint, type);
            },
            (this, upstream, contentType),
            _options.StableAfter,
            Timeout.InfiniteTimeSpan);
    }

    /// <summary>The stream has lasted StableAfter: a run of failures, if any, is over (logged as streaming again).</summary>
    private void OnStable(UpstreamEndpoint upstream, string? contentType)
    {
        if (_failures.TryEnd(out _))
        {
            RelayLog.Streaming(_logger, _options.Mount, upstream.Display, contentType);
        }
    }

    /// <summary>How long until the first open circuit lets an attempt through (at least 10 ms, so a round never spins).</summary>
    private TimeSpan UntilFirstCircuitLetsThrough()
    {
        var now = _time.GetUtcNow();
        var first = _upstreams.Min(u => u.OpenUntil ?? now);
        var delay = first - now;
        return delay < TimeSpan.FromMilliseconds(10) ? TimeSpan.FromMilliseconds(10) : delay;
    }

    /// <summary>Disposes the stable timer of an attempt when it ends.</summary>
    private readonly struct StableTimerScope(RelayWorker worker) : IDisposable
    {
        public void Dispose()
        {
            worker._stableTimer?.Dispose();
            worker._stableTimer = null;
        }
    }

    private void EnterIdle()
    {
        if (GetStatus().State != RelayState.Idle || !_idleLogged)
        {
            _idleLogged = true;
            SetState(RelayState.Idle, null);
            RelayLog.Idle(_logger, _options.Mount);
        }
    }

    /// <summary>Ends the session once the mount has had no listener for <see cref="RelayOptions.IdleTimeout"/>.</summary>
    private async Task WatchListenersAsync(CancellationTokenSource session)
    {
        // Poll: IRelayHost has no "last listener left" signal, and a count read is cheap.
        var period = TimeSpan.FromTicks(Math.Clamp(_options.IdleTimeout.Ticks / 4, TimeSpan.FromMilliseconds(10).Ticks, TimeSpan.FromSeconds(1).Ticks));
        DateTimeOffset? emptySince = null;
        try
        {
            while (true)
            {
                await Task.Delay(period, _time, session.Token).ConfigureAwait(false);
                if (_host.GetListenerCount(_options.Mount) > 0)
                {
                    emptySince = null;
                    continue;
                }

                var now = _time.GetUtcNow();
                emptySince ??= now;
                if (now - emptySince.Value >= _options.IdleTimeout)
                {
                    RelayLog.IdleDisconnect(_logger, _options.Mount, _options.IdleTimeout);
                    await session.CancelAsync().ConfigureAwait(false);
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception ex)
        {
            RelayLog.HostFailed(_logger, _options.Mount, ex);
        }
    }

    private ResiliencePipeline<AttemptOutcome> BuildBreaker(UpstreamEndpoint upstream) =>
        new ResiliencePipelineBuilder<AttemptOutcome> { TimeProvider = _time }
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions<AttemptOutcome>
            {
                // Every attempt in the window failed and there were at least N: skip this upstream for a while.
                FailureRatio = 1.0,
                MinimumThroughput = _options.CircuitBreakerThreshold,
                SamplingDuration = _options.CircuitSamplingDuration,
                BreakDuration = _options.CircuitBreakDuration,
                ShouldHandle = static args => ValueTask.FromResult(args.Outcome.Exception is null && args.Outcome.Result.CountsAgainstUpstream),
                OnOpened = args =>
                {
                    upstream.OpenUntil = _time.GetUtcNow() + args.BreakDuration;
                    // Opened again and again by the same dead upstream: logged once, then with a count per interval.
                    if (upstream.OpenLog!.ShouldLog("open", out var repeats))
                    {
                        if (repeats == 0)
                        {
                            RelayLog.CircuitOpened(_logger, _options.Mount, upstream.Display, _options.CircuitBreakerThreshold, args.BreakDuration);
                        }
                        else
                        {
                            RelayLog.CircuitStillOpening(_logger, _options.Mount, upstream.Display, repeats, _options.RepeatedFailureLogInterval, args.BreakDuration);
                        }
                    }
                    return default;
                },
                OnHalfOpened = _ =>
                {
                    upstream.OpenUntil = null;
                    return default;
                },
                OnClosed = args =>
                {
                    upstream.OpenUntil = null;
                    upstream.OpenLog!.TryEnd(out var _);
                    RelayLog.CircuitClosed(_logger, _options.Mount, upstream.Display);
                    return default;
                },
            })
            .Build();

    private void SetState(RelayState state, string? upstream)
    {
        lock (_lock)
        {
            if (_state != state)
            {
                _state = state;
                _since = _time.GetUtcNow();
            }

            if (upstream is not null)
            {
                _upstream = upstream;
            }
        }
    }

    private void SetError(string error)
    {
        lock (_lock)
        {
            _lastError = error;
        }
    }
}

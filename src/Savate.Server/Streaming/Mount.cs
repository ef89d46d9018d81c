using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Savate.Server.Configuration;
using Savate.Server.Streaming.Feeds;
using Savate.Server.Streaming.Ingest;

namespace Savate.Server.Streaming;

/// <summary>What a listener joining now would be served.</summary>
internal enum MountAvailability
{
    /// <summary>A source is on, or just left and may come back within the grace period.</summary>
    Playable,
    /// <summary>No source: nothing to send.</summary>
    NoSource,
}

/// <summary>
/// A mount point: its ring, its current source, its listeners and its counters. No HTTP types here:
/// sources hand it slices through an <see cref="IContainerIngest"/>, listeners read its ring through
/// <see cref="Listener"/>.
/// </summary>
internal sealed class Mount : IIngestTarget, IDisposable
{
    private readonly object _lock = new();
    private readonly object _publishLock = new();
    private readonly HashSet<Listener> _listeners = [];
    private readonly FlushScheduler _flush;
    private readonly MountShare[] _shares;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Action<Mount>? _onIdle;
    private JoinHeaders? _headers;
    private SourceSession? _source;
    private MountFormat _detectedFormat;
    private readonly Func<string, Mount?> _findMount;
    private readonly Func<string, FileMedia> _loadFile;
    private FileMedia?[] _files;
    private ITimer? _graceTimer;
    private ITimer? _evaluateTimer;
    private IContainerIngest? _liveIngest;
    // The live source reached a join point but a fallback plays on (override: false): it goes live at its first
    // keyframe after that fallback ends (TryGoLive), and no other fallback starts meanwhile.
    private bool _liveWaiting;
    // The decision (what plays, grace); guarded by _lock like everything it reads.
    private readonly FeedSelector _selector;
    private readonly Func<int, bool> _isFallbackAvailable;
    private ActiveFallback? _fallback;
    private string _playing = "nothing";
    private long _switches;
    private long _epoch;
    private long _endedBefore;
    private bool _disposed;
    private bool _accepted;
    private bool _retired;

    public Mount(MountConfig config, ServerConfig server, SlicePool pool, TimeProvider time, ILogger logger, bool isDynamic = false,
        Action<Mount>? onIdle = null, Func<string, Mount?>? findMount = null, Func<string, FileMedia>? loadFile = null)
    {
        _findMount = findMount ?? (_ => null);
        _loadFile = loadFile ?? FileMedia.Load;
        _files = [.. config.Fallback.Select(f => f.File is null ? null : _loadFile(f.FullPath ?? f.File))];
        Config = config;
        Server = server;
        Pool = pool;
        IsDynamic = isDynamic;
        _time = time;
        _logger = logger;
        _onIdle = onIdle;
        Ring = new Ring((long)config.Buffer.TotalMilliseconds, config.BufferBytes);
        _flush = new FlushScheduler(Signal, time, server.FlushInterval, SendLoops.Shared.Pacer, server.MaxFlushInterval);
        _shares = SendLoops.Shared.CreateShares(this);
        Signal.OnSet = RequestFlush;
        _selector = new FeedSelector(time);
        _isFallbackAvailable = IsFallbackAvailable;
    }

    /// <summary>
    /// Starts playing the fallback chain (a declared mount with a fallback is watchable from the start)
    /// and re-evaluates it periodically: a fallback mount that gains or loses its source changes what plays.
    /// </summary>
    public void Start()
    {
        if (Config.Fallback.Count == 0)
        {
            return;
        }
        Evaluate();
        lock (_lock)
        {
            _evaluateTimer ??= _time.CreateTimer(static s => ((Mount)s!).Evaluate(), this, EvaluatePeriod, EvaluatePeriod);
        }
    }

    // How often the fallback chain is re-evaluated besides source events.
    private static readonly TimeSpan EvaluatePeriod = TimeSpan.FromMilliseconds(250);

    /// <summary>What plays now: "live", "fallback /backup.flv", "fallback file samples/offline.flv", or "nothing".</summary>
    public string Playing
    {
        get
        {
            lock (_lock)
            {
                return _playing;
            }
        }
    }

    /// <summary>Switches between live and fallbacks so far.</summary>
    public long Switches => Interlocked.Read(ref _switches);

    public string Path => Config.Path;

    public MountConfig Config { get; private set; }

    public ServerConfig Server { get; private set; }

    /// <inheritdoc/>
    public int MaxTagSize => Server.MaxTagSize;

    /// <summary>Created by a source on an undeclared path; a reload that declares the path makes it a declared mount.</summary>
    public bool IsDynamic { get; set; }

    /// <summary>Pulled from an upstream by a relay: listeners are accepted (and wait) before the relay has a source.</summary>
    public bool IsRelayed { get; set; }

    /// <summary>Set on a private mount that carries listeners an operator moved to this destination (Admin/ListenerMover).</summary>
    public Mount? CarrierFor { get; set; }

    /// <summary>Set whenever a listener joins (relays pull on demand).</summary>
    public AsyncSignal ListenerJoined { get; } = new();

    public SlicePool Pool { get; }

    public Ring Ring { get; }

    public AsyncSignal Signal { get; } = new();

    public MediaTimeline Timeline { get; } = new();

    public MountStats Stats { get; } = new();

    /// <summary>MPEG-TS output state (continuity counters, PSI version, last timestamps), kept across feeds.</summary>
    public TsOutputState TsOutput { get; } = new();

    public ILogger Logger => _logger;

    public TimeProvider Time => _time;

    /// <summary>The configured format, else the one the current (or last) source turned out to send.</summary>
    public MountFormat Format => Config.Format != MountFormat.Auto ? Config.Format : (MountFormat)Volatile.Read(ref Unsafe.As<MountFormat, int>(ref _detectedFormat));

    public JoinHeaders? Headers
    {
        get => Volatile.Read(ref _headers);
        set => Volatile.Write(ref _headers, value);
    }

    public SourceSession? Source => Volatile.Read(ref _source);

    public bool InGrace
    {
        get
        {
            lock (_lock)
            {
                return _selector.InGrace;
            }
        }
    }

    public int ListenerCount
    {
        get
        {
            lock (_lock)
            {
                return _listeners.Count;
            }
        }
    }

    /// <summary>The epoch a listener joining now belongs to.</summary>
    public long Epoch => Volatile.Read(ref _epoch);

    public MountAvailability Availability
    {
        get
        {
            lock (_lock)
            {
                return _source is not null || _selector.InGrace || _fallback is not null || IsRelayed ? MountAvailability.Playable : MountAvailability.NoSource;
            }
        }
    }

    /// <summary>True once the stream a listener of <paramref name="epoch"/> was following has ended for good.</summary>
    public bool IsEnded(long epoch) => epoch < Volatile.Read(ref _endedBefore);

    /// <summary>
    /// Applies a reloaded configuration in place: the source and the listeners stay. Limits apply to what comes next
    /// (new listeners, new sources, the next lag check); a changed fallback chain is re-evaluated at once: an entry
    /// added is used now if it is the first available one, and removing the entry now playing moves to the next
    /// available one (at its first keyframe), else to grace. Fallback files are loaded before anything changes.
    /// </summary>
    public void Reconfigure(MountConfig config, ServerConfig server)
    {
        var old = Config;
        var chainChanged = !old.Fallback.Equals(config.Fallback);
        FileMedia?[]? files = null;
        if (chainChanged)
        {
            var oldFiles = _files;
            files = new FileMedia?[config.Fallback.Count];
            for (var i = 0; i < files.Length; i++)
            {
                var entry = config.Fallback[i];
                if (entry.File is null)
                {
                    continue;
                }
                var reuse = old.Fallback.Select((f, j) => (f, j)).FirstOrDefault(x => x.f.File is not null && x.f.FullPath == entry.FullPath && oldFiles[x.j] is not null);
                files[i] = reuse.f is not null ? oldFiles[reuse.j] : _loadFile(entry.FullPath ?? entry.File);
            }
        }
        bool startTimer;
        lock (_lock)
        {
            if (files is not null)
            {
                var playing = _selector.FallbackIndex;
                if (_selector.Playing == FeedKind.Fallback && playing >= 0 && playing < old.Fallback.Count)
                {
                    var index = IndexOf(config.Fallback, old.Fallback[playing]);
                    if (index < 0)
                    {
                        // The entry playing was removed: stop it; Evaluate moves on to the next one (or to grace).
                        StopFallback();
                    }
                    _selector.FallbackMoved(index);
                }
                _files = files;
            }
            Config = config;
            Server = server;
            startTimer = !_disposed && config.Fallback.Count > 0 && _evaluateTimer is null;
        }
        Ring.BufferMilliseconds = (long)config.Buffer.TotalMilliseconds;
        Ring.MaxBytes = config.BufferBytes;
        _flush.Interval = server.FlushInterval;
        _flush.MaxInterval = server.MaxFlushInterval;
        if (startTimer)
        {
            Start();
        }
        else if (chainChanged || old.Override != config.Override)
        {
            Evaluate();
        }
    }

    private static int IndexOf(IReadOnlyList<FallbackConfig> chain, FallbackConfig entry)
    {
        for (var i = 0; i < chain.Count; i++)
        {
            if (chain[i] == entry)
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>
    /// The mount was removed by a reload: its source is dropped and its listeners end cleanly (each gets the
    /// end of the stream after what it was sent, then the connection closes).
    /// </summary>
    public void Remove()
    {
        Source?.Kick();
        Dispose();
    }

    /// <summary>Claims the mount for a source; false (409) when another source has it.</summary>
    public bool TryClaim(SourceSession source)
    {
        lock (_lock)
        {
            if (_disposed || _retired || _source is not null)
            {
                return false;
            }
            // Grace keeps running until the source's ingest actually plays (it may still be refused).
            _source = source;
        }
        Stats.OnSourceConnected();
        return true;
    }

    /// <summary>
    /// Fixes the format of the claimed mount. False (415) when the mount is declared with the other
    /// format, or when listeners are following a stream of the other format.
    /// </summary>
    public bool TrySetFormat(MountFormat format)
    {
        lock (_lock)
        {
            if (Config.Format != MountFormat.Auto)
            {
                return Config.Format == format;
            }
            if (_detectedFormat != MountFormat.Auto && _detectedFormat != format && _listeners.Count > 0)
            {
                return false;
            }
            _detectedFormat = format;
            return true;
        }
    }

    /// <summary>
    /// Called once, when the first source is accepted (its ingest attached): a dynamic mount is listed only
    /// from then on (<see cref="MountRegistry"/>), so a refused source leaves no mount behind, even for a moment.
    /// </summary>
    public Action<Mount>? FirstSourceAccepted { get; set; }

    /// <summary>True once a source has been accepted here (its ingest attached).</summary>
    public bool HasAcceptedSource => Volatile.Read(ref _accepted);

    /// <summary>A dynamic mount whose only source was refused: it takes no other source and is about to go.</summary>
    public bool IsRetired => Volatile.Read(ref _retired);

    /// <summary>
    /// The live source has its ingest: it plays from its first keyframe (or, override: false, its first keyframe
    /// after the fallback ends). Until then whatever plays (the fallback, or nothing through grace) goes on, so a
    /// source that connects and trickles does not freeze the listeners.
    /// </summary>
    public void AttachLiveIngest(SourceSession source, IContainerIngest ingest)
    {
        bool first;
        lock (_lock)
        {
            if (_source != source)
            {
                return;
            }
            _liveIngest = ingest;
            first = !_accepted;
            _accepted = true;
        }
        if (first)
        {
            FirstSourceAccepted?.Invoke(this);
        }
        ingest.ActivateAtJoinPoint(TryGoLive);
    }

    // Runs under the live ingest's lock, at each of its join points until it plays. Lock order: ingest, then the
    // mount's (then a fallback ingest's, to stop it); the mount never takes the live ingest's lock under its own.
    private bool TryGoLive(IContainerIngest ingest)
    {
        string? announce;
        lock (_lock)
        {
            if (_disposed || _liveIngest != ingest)
            {
                return false;
            }
            if (_selector.Playing == FeedKind.Live)
            {
                return true;
            }
            var fallbackEnded = _fallback is { Task.IsCompleted: true };
            if (fallbackEnded)
            {
                StopFallback();
            }
            var before = _selector.State;
            if (_selector.Decide(Inputs(liveReady: true, fallbackEnded)).Action != FeedAction.PlayLive)
            {
                // override: false: the fallback plays on; when it ends no other starts, and the next keyframe goes live.
                _liveWaiting = true;
                return false;
            }
            // The ingest activates itself on this keyframe (it holds its lock): no Activate() here.
            StopFallback();
            SwitchTo(before, "live");
            _liveWaiting = false;
            announce = _playing;
        }
        FeedLog.Switched(_logger, Path, announce);
        return true;
    }

    private FeedInputs Inputs(bool liveReady, bool fallbackEnded) =>
        new(liveReady, _source is not null, Config.Override, Config.Grace, Config.Fallback.Count, _isFallbackAvailable, fallbackEnded);

    /// <summary>The source is gone: listeners are held for the grace period, then the fallback plays, or they are closed.</summary>
    public void Release(SourceSession source)
    {
        lock (_lock)
        {
            if (_source != source)
            {
                return;
            }
            _source = null;
            _liveIngest = null;
            _liveWaiting = false;
            Stats.OnSourceEnded(source.End);
            // Refused before it streamed: the unlisted dynamic mount made for it goes at once (no grace, no listener).
            _retired = IsDynamic && !_accepted;
            if (!_retired)
            {
                // Listeners that were following the live source (or waiting for its first keyframe) are held for
                // the grace period; a fallback that is playing simply goes on.
                Apply(_selector.SourceLeft(Config.Grace), _selector.State);
            }
        }
        if (IsRetired)
        {
            _onIdle?.Invoke(this);
            return;
        }
        _flush.FireNow();
        Evaluate();
    }

    /// <summary>Decides what plays (live, which fallback, nothing) through the <see cref="FeedSelector"/>, and acts on it.</summary>
    public void Evaluate()
    {
        Func<Task>? start;
        string? announce;
        int? ended;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }
            var fallbackEnded = _fallback is { Task.IsCompleted: true };
            if (fallbackEnded)
            {
                // The fallback feed ended by itself (its mount lost its source).
                StopFallback();
            }
            if (_liveIngest is not null && _liveWaiting)
            {
                // Live takes over at its next keyframe (TryGoLive); a fallback that ended is not replaced.
                if (fallbackEnded)
                {
                    _selector.State = FeedState.Initial;
                    _playing = "nothing";
                }
                (start, announce, ended) = (null, null, null);
            }
            else
            {
                // Live counts as ready only once it plays: until its first keyframe (TryGoLive) whatever plays goes on.
                var before = _selector.State;
                var decision = _selector.Decide(Inputs(liveReady: _liveIngest is not null && before.Playing == FeedKind.Live, fallbackEnded));
                (start, announce, ended) = Apply(decision, before);
            }
        }
        if (announce is not null)
        {
            FeedLog.Switched(_logger, Path, announce);
        }
        if (ended is { } closed)
        {
            StreamingLog.MountIdle(_logger, Path, closed);
            _flush.FireNow();
            _onIdle?.Invoke(this);
        }
        if (start is not null)
        {
            _ = Task.Run(start);
        }
    }

    /// <summary>Acts on a decision, under the lock: returns a fallback feed to run, what to announce, and how many listeners an end closed.</summary>
    private (Func<Task>? Start, string? Announce, int? Ended) Apply(FeedDecision decision, FeedState before)
    {
        switch (decision.Action)
        {
            case FeedAction.PlayLive:
                // Not reached: Evaluate calls the live source ready only while it plays (a live source starts at its
                // first keyframe, in TryGoLive), so the selector keeps it. Nothing to do if it ever were.
                Debug.Fail("PlayLive decided by Evaluate");
                return (null, null, null);
            case FeedAction.PlayFallback:
                StopFallback();
                var start = StartFallback(decision.FallbackIndex, before);
                if (start is null)
                {
                    // The fallback mount refused its listener: try again at the next evaluation.
                    _selector.State = before;
                    return (null, null, null);
                }
                return (start, _playing, null);
            case FeedAction.Hold:
                StopFallback();
                _playing = "nothing";
                ArmGraceTimer(decision.GraceUntil);
                return (null, null, null);
            case FeedAction.End:
                var closed = _listeners.Count;
                _epoch++;
                Volatile.Write(ref _endedBefore, _epoch);
                Ring.ClearJoinPoints();
                if (closed == 0 && Config.Format == MountFormat.Auto)
                {
                    _detectedFormat = MountFormat.Auto;
                }
                return (null, null, closed);
            default:
                return (null, null, null);
        }
    }

    /// <summary>Evaluates again when grace is over (under the lock).</summary>
    private void ArmGraceTimer(long until)
    {
        _graceTimer?.Dispose();
        // Rounded up to the millisecond, as timers count, and at least one: grace that is already over is ended by
        // the next evaluation, never by a timer spinning at zero.
        var due = TimeSpan.FromMilliseconds(Math.Max(1, Math.Ceiling((until - _time.GetTimestamp()) * 1000.0 / _time.TimestampFrequency)));
        _graceTimer = _disposed ? null : _time.CreateTimer(static s => ((Mount)s!).OnGraceOver(), this, due, Timeout.InfiniteTimeSpan);
    }

    /// <summary>
    /// The grace timer fired. A system timer runs on a coarser clock (Environment.TickCount64, 4 ms steps on Linux)
    /// than the timestamp grace is measured with, and can fire a few milliseconds early: grace is then not over, and
    /// unless the timer is armed again nothing ends it (a mount without a fallback is evaluated on events only).
    /// That left half of the dynamic mounts a source storm made in grace for good, with their memory. Whether grace
    /// is still on is the state's word after the evaluation, not a second look at the clock: grace could end between
    /// the two, and then nothing evaluated again (one mount in about five 200-source storms).
    /// </summary>
    private void OnGraceOver()
    {
        Evaluate();
        lock (_lock)
        {
            if (!_disposed && _selector.State.GraceUntil is { } until)
            {
                ArmGraceTimer(until);
            }
        }
    }

    private void SwitchTo(FeedState before, string playing)
    {
        if (before.Playing != FeedKind.None || Timeline.HasOutput)
        {
            Interlocked.Increment(ref _switches);
        }
        _playing = playing;
        _graceTimer?.Dispose();
        _graceTimer = null;
    }

    private bool IsFallbackAvailable(int index)
    {
        if (index < 0 || index >= Config.Fallback.Count)
        {
            return false;
        }
        var entry = Config.Fallback[index];
        MountFormat format;
        if (_files[index] is { } file)
        {
            format = file.Format;
        }
        else if (entry.Mount is not null && _findMount(entry.Mount) is { } target && target.Source is not null && target.Format != MountFormat.Auto)
        {
            format = target.Format;
        }
        else
        {
            return false;
        }
        var current = Format;
        return current == MountFormat.Auto || current == format || (Config.Format == MountFormat.Auto && _listeners.Count == 0);
    }

    private Func<Task>? StartFallback(int index, FeedState before)
    {
        var entry = Config.Fallback[index];
        var cts = new CancellationTokenSource();
        var file = _files[index];
        var target = file is null ? _findMount(entry.Mount!)! : null;
        var format = file?.Format ?? target!.Format;
        var ingest = ContainerIngest.Create(this, format);
        Func<Task> run;
        string playing;
        if (file is not null)
        {
            var feed = new FileFeed(file, ingest, _time, _logger);
            run = () => feed.RunAsync(cts.Token);
            playing = $"fallback file {entry.File}";
        }
        else
        {
            var listener = new Listener(target!, new IngestSink(ingest, cts), $"fallback for {Path}");
            if (!target!.TryAddListener(listener))
            {
                return null;
            }
            run = async () =>
            {
                try
                {
                    await listener.RunAsync(cts.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    StreamingLog.SourceDropped(_logger, Path, $"fallback {entry.Mount}", e.Message);
                }
                finally
                {
                    target.RemoveListener(listener);
                }
            };
            playing = $"fallback {entry.Mount}";
        }
        if (Config.Format == MountFormat.Auto)
        {
            _detectedFormat = format;
        }
        SwitchTo(before, playing);
        ingest.Activate();
        var done = new TaskCompletionSource();
        _fallback = new ActiveFallback(ingest, cts, done.Task);
        return async () =>
        {
            try
            {
                await run().ConfigureAwait(false);
            }
            finally
            {
                ingest.Abandon();
                done.TrySetResult();
            }
            Evaluate();
        };
    }

    private void StopFallback()
    {
        if (_fallback is { } fallback)
        {
            _fallback = null;
            fallback.Ingest.Deactivate();
            fallback.Stop.Cancel();
        }
    }

    private sealed record ActiveFallback(IContainerIngest Ingest, CancellationTokenSource Stop, Task Task);

    /// <summary>The send-loop share a listener with <paramref name="id"/> is driven by (<see cref="SendLoops"/>).</summary>
    public MountShare ShareFor(long id) => _shares[(int)((ulong)id % (ulong)_shares.Length)];

    /// <summary>The flush interval in effect (stretched under load).</summary>
    public TimeSpan FlushInterval => _flush.CurrentInterval;

    // A flush (or a state change) for the listeners on the send loops: each loop walks its share.
    private void RequestFlush()
    {
        foreach (var share in _shares)
        {
            share.RequestFlush();
        }
    }

    /// <summary>Adds a listener unless the mount is disposed or at its max-listeners (<paramref name="ignoreLimit"/>: a slave's relay pull).</summary>
    public bool TryAddListener(Listener listener, bool ignoreLimit = false)
    {
        lock (_lock)
        {
            if (_disposed || (!ignoreLimit && Config.MaxListeners is { } max && _listeners.Count >= max))
            {
                return false;
            }
            _listeners.Add(listener);
        }
        Stats.OnListenerConnected();
        ListenerJoined.Set();
        return true;
    }

    public void RemoveListener(Listener listener)
    {
        lock (_lock)
        {
            if (!_listeners.Remove(listener))
            {
                return;
            }
        }
        Stats.OnListenerClosed(listener.BytesSent);
    }

    /// <summary>A copy of the listener list (status, monitor).</summary>
    public Listener[] SnapshotListeners()
    {
        lock (_lock)
        {
            return [.. _listeners];
        }
    }

    /// <summary>
    /// Copies the listeners into <paramref name="buffer"/> (grown when too small, else reused) and returns how many:
    /// for a check that runs several times a second over every listener (LagMonitor), where a new array each time
    /// was 40 KB per quarter second at 5,000 listeners, and a large-object-heap array at 19,000.
    /// </summary>
    public int CopyListeners(ref Listener[] buffer)
    {
        lock (_lock)
        {
            if (buffer.Length < _listeners.Count)
            {
                buffer = new Listener[Math.Max(16, (int)BitOperations.RoundUpToPowerOf2((uint)_listeners.Count))];
            }
            _listeners.CopyTo(buffer);
            return _listeners.Count;
        }
    }

    /// <summary>Builds the pending slice and appends it to the ring, then schedules a listener wake-up.</summary>
    public void Publish(SliceBuilder builder)
    {
        lock (_publishLock)
        {
            var slice = builder.Build(Ring.Head, Timeline.HasOutput ? Timeline.LastTime : 0);
            if (slice is null)
            {
                return;
            }
            if (slice.IsKeyframe)
            {
                Stats.OnKeyframe(slice.StartTime);
            }
            try
            {
                Ring.Append(slice);
            }
            catch (ObjectDisposedException)
            {
                // The mount closed (shutdown, retired relay) while a feed was mid-read.
                slice.Release();
                return;
            }
        }
        _flush.Publish();
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            _graceTimer?.Dispose();
            _evaluateTimer?.Dispose();
            StopFallback();
            _epoch++;
            Volatile.Write(ref _endedBefore, _epoch);
        }
        _flush.FireNow();
        _flush.Dispose();
        Ring.Dispose();
    }
}

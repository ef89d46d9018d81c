using System.Buffers;

namespace Savate.Server.Streaming.Ingest;

/// <summary>
/// Turns one feed's bytes (a live source, a fallback file, another mount) into slices on its mount.
/// One instance per feed; it keeps the parser state between reads (the caller keeps the unconsumed
/// bytes). Only the mount's active feed writes: an inactive one parses (to keep its codec
/// configuration current) but appends nothing.
/// </summary>
internal interface IContainerIngest
{
    /// <summary>
    /// Parses every complete unit in <paramref name="buffer"/>, publishing slices to the mount while
    /// active, and returns how far it consumed. Throws the container's format exception on garbage it cannot skip.
    /// </summary>
    SequencePosition Process(in ReadOnlySequence<byte> buffer);

    /// <summary>Publishes what is pending (end of a read batch).</summary>
    void Flush();

    /// <summary>The feed is gone: drop partial state.</summary>
    void Abandon();

    bool IsActive { get; }

    /// <summary>
    /// Makes this feed the one the mount plays: it starts at its next join point, with its codec
    /// configuration sent in-band first and its timestamps continuing the mount's timeline.
    /// </summary>
    void Activate();

    /// <summary>Stops appending (another feed takes over).</summary>
    void Deactivate();

    /// <summary>
    /// Arms a live source's feed: it stays inactive (whatever plays goes on) until it reaches a join point, where it
    /// asks <paramref name="goLive"/> whether to play, and if so activates itself there, on that keyframe. A source is
    /// live from its first keyframe, not from its connection. <paramref name="goLive"/> runs under the ingest's lock.
    /// </summary>
    void ActivateAtJoinPoint(Func<IContainerIngest, bool> goLive);

    /// <summary>
    /// Adds to every later source timestamp: a looped file says so at each pass, so its timeline
    /// continues exactly instead of being detected as a jump.
    /// </summary>
    void AddSourceOffset(long milliseconds);
}

/// <summary>The ingest for a container format.</summary>
internal static class ContainerIngest
{
    public static IContainerIngest Create(IIngestTarget mount, Configuration.MountFormat format) =>
        format == Configuration.MountFormat.Flv ? new FlvIngest(mount) : new TsIngest(mount);
}

/// <summary>The activation and publishing logic the FLV and MPEG-TS ingests share.</summary>
internal abstract class IngestBase : IContainerIngest
{
    // A slice grows to at most this before it is cut, so one huge GOP does not become one huge array.
    protected const int MaxSliceBytes = 512 * 1024;

    private readonly object _lock = new();
    private bool _active;
    private Func<IContainerIngest, bool>? _goLive;

    protected IngestBase(IIngestTarget mount)
    {
        Mount = mount;
        Builder = new SliceBuilder(mount.Pool);
    }

    /// <summary>The mount, through the narrow interface an ingest writes through.</summary>
    protected IIngestTarget Mount { get; }

    protected SliceBuilder Builder { get; }

    /// <summary>Media before the feed's first join point (after activation) is dropped.</summary>
    protected bool WaitingForKeyframe { get; set; } = true;

    /// <summary>The feed was just activated: its configuration goes in-band before its first join point.</summary>
    protected bool PendingConfiguration { get; set; }

    /// <summary>This feed's own join headers (the mount's only while it is active).</summary>
    protected JoinHeaders? Headers { get; private set; }

    public bool IsActive
    {
        get
        {
            lock (_lock)
            {
                return _active;
            }
        }
    }

    /// <summary>True while active; checked under the ingest's lock by the parse path.</summary>
    protected bool Active => _active;

    public SequencePosition Process(in ReadOnlySequence<byte> buffer)
    {
        lock (_lock)
        {
            return Parse(buffer);
        }
    }

    public void Flush()
    {
        lock (_lock)
        {
            if (_active)
            {
                Mount.Publish(Builder);
            }
        }
    }

    public void Abandon()
    {
        lock (_lock)
        {
            _active = false;
            Builder.Discard();
        }
    }

    public void Activate()
    {
        lock (_lock)
        {
            ActivateLocked();
        }
    }

    public void ActivateAtJoinPoint(Func<IContainerIngest, bool> goLive)
    {
        lock (_lock)
        {
            _goLive = goLive;
        }
    }

    private void ActivateLocked()
    {
        _active = true;
        WaitingForKeyframe = true;
        PendingConfiguration = true;
        Builder.Discard();
        OnActivated();
        if (Headers is not null)
        {
            Mount.Headers = Headers;
        }
    }

    /// <summary>
    /// At a join point: true when the feed is active, or is an armed live feed that the mount lets play from here
    /// (it is activated now, so this very keyframe starts it). Called by the parse path, under the ingest's lock.
    /// </summary>
    protected bool ActiveAtJoinPoint()
    {
        if (_active)
        {
            return true;
        }
        if (_goLive is null || !_goLive(this))
        {
            return false;
        }
        ActivateLocked();
        return true;
    }

    public void Deactivate()
    {
        lock (_lock)
        {
            _active = false;
            Builder.Discard();
        }
    }

    /// <summary>Milliseconds added to the source's timestamps (file loops).</summary>
    protected long SourceOffset { get; private set; }

    public void AddSourceOffset(long milliseconds)
    {
        lock (_lock)
        {
            SourceOffset += milliseconds;
        }
    }

    protected abstract SequencePosition Parse(in ReadOnlySequence<byte> buffer);

    /// <summary>Resets the feed's timeline offset and output state for a new activation.</summary>
    protected abstract void OnActivated();

    /// <summary>Appends the feed's configuration (sequence headers, PAT/PMT) in-band.</summary>
    protected abstract void AppendConfiguration();

    protected void SetHeaders(JoinHeaders headers)
    {
        Headers = headers;
        if (_active)
        {
            Mount.Headers = headers;
        }
    }

    /// <summary>Cuts the slice being built so that a join point starts a new one.</summary>
    protected void StartJoinPoint()
    {
        WaitingForKeyframe = false;
        if (PendingConfiguration)
        {
            // The feed's configuration goes just before its first join point, for listeners that
            // follow the mount across the switch; a joiner starts at the keyframe with join headers.
            PendingConfiguration = false;
            AppendConfiguration();
        }
        if (!Builder.IsEmpty)
        {
            Mount.Publish(Builder);
        }
        Builder.BeginKeyframe(HeadersAtJoinPoint());
    }

    /// <summary>The join headers of the slice that starts now (after everything appended so far).</summary>
    protected virtual JoinHeaders? HeadersAtJoinPoint() => Headers;

    protected void CutIfLarge()
    {
        if (Builder.Length >= MaxSliceBytes)
        {
            Mount.Publish(Builder);
        }
    }
}

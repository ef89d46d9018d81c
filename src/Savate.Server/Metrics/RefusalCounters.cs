namespace Savate.Server.Metrics;

/// <summary>Why a connection or request was refused (tag <c>reason</c> of <c>savate.connections.refused</c>): a bounded set.</summary>
internal enum RefusalReason
{
    /// <summary>A listener over server.max-listeners (503).</summary>
    MaxListeners,
    /// <summary>A listener over the mount's max-listeners (503).</summary>
    MountFull,
    /// <summary>A listener of a declared mount with no source (503).</summary>
    NoSource,
    /// <summary>A new connection from an address with max-pending-per-address unfinished heads (closed at accept).</summary>
    PendingLimit,
    /// <summary>An unfinished connection shed for a newer one over max-pending-connections.</summary>
    PendingShed,
    /// <summary>A connection closed or shed near the process's descriptor limit.</summary>
    FdLimit,
    /// <summary>A request head not complete within request-head-timeout (408).</summary>
    HeadTimeout,
    /// <summary>A malformed request head or path (400).</summary>
    BadRequest,
    /// <summary>A request head over 32 KiB or 100 fields (431).</summary>
    HeadTooLarge,
    /// <summary>A request line over 8 KiB (414).</summary>
    UriTooLong,
    /// <summary>A source that would create one mount more than max-dynamic-mounts (503).</summary>
    DynamicMountLimit,
    /// <summary>A source with wrong or no credentials (401), or another refusal of its request (403, 404).</summary>
    SourceUnauthorized,
    /// <summary>A source for a mount that already has one (409).</summary>
    SourceConflict,
    /// <summary>A source that is neither FLV nor MPEG-TS (415).</summary>
    SourceUnsupported,
}

/// <summary>
/// Server-wide counts of refusals by reason and of listeners redirected to slaves, kept where the decision is
/// made (one interlocked increment, nothing allocated) and read by <see cref="SavateMetrics"/> at collection.
/// </summary>
internal sealed class RefusalCounters
{
    private static readonly string[] s_tags =
    [
        "max-listeners", "mount-full", "no-source", "pending-limit", "pending-shed", "fd-limit", "head-timeout",
        "bad-request", "head-too-large", "uri-too-long", "dynamic-mount-limit", "source-unauthorized", "source-conflict",
        "source-unsupported",
    ];

    private readonly long[] _counts = new long[s_tags.Length];
    private long _redirects;

    /// <summary>Every reason, in enum order.</summary>
    public static IReadOnlyList<RefusalReason> Reasons { get; } = Enum.GetValues<RefusalReason>();

    /// <summary>The <c>reason</c> tag of a refusal.</summary>
    public static string Tag(RefusalReason reason) => s_tags[(int)reason];

    public void On(RefusalReason reason) => Interlocked.Increment(ref _counts[(int)reason]);

    public void On(RefusalReason reason, long count) => Interlocked.Add(ref _counts[(int)reason], count);

    public long Count(RefusalReason reason) => Interlocked.Read(ref _counts[(int)reason]);

    /// <summary>A listener was sent to a slave (302).</summary>
    public void OnRedirect() => Interlocked.Increment(ref _redirects);

    public long Redirects => Interlocked.Read(ref _redirects);
}

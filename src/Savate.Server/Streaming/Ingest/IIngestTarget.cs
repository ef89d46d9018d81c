namespace Savate.Server.Streaming.Ingest;

/// <summary>
/// What an ingest may touch on its mount, and nothing else: the pool its slices are packed in, the mount's
/// timeline and MPEG-TS output state (kept across feeds), its join headers, and publishing a built slice.
/// <see cref="Mount"/> implements it; an ingest never sees the mount's sources, listeners or feed selection.
/// </summary>
internal interface IIngestTarget
{
    SlicePool Pool { get; }

    MediaTimeline Timeline { get; }

    TsOutputState TsOutput { get; }

    /// <summary>The join headers of the active feed (what a listener joining now gets first).</summary>
    JoinHeaders? Headers { set; }

    /// <summary>Builds the pending slice and appends it to the ring, then schedules a listener wake-up.</summary>
    /// <summary>The largest FLV tag DataSize a feed may carry (server.max-tag-size): a larger one drops the source.</summary>
    int MaxTagSize { get; }

    void Publish(SliceBuilder builder);
}

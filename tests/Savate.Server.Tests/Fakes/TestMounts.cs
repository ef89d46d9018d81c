using System.Buffers;
using Microsoft.Extensions.Logging.Abstractions;
using Savate.Flv;
using Savate.Server.Configuration;
using Savate.Server.Streaming;
using Savate.Server.Streaming.Ingest;

namespace Savate.Server.Tests.Fakes;

/// <summary>Builds mounts without a server, and reads back what their rings hold.</summary>
internal static class TestMounts
{
    public static Mount Create(
        ManualTimeProvider? time = null,
        SlicePool? pool = null,
        MountConfig? config = null,
        ServerConfig? server = null,
        Action<Mount>? onIdle = null) =>
        new(config ?? new MountConfig { Path = "/live" },
            server ?? new ServerConfig { FlushInterval = TimeSpan.Zero },
            pool ?? new SlicePool(),
            time ?? new ManualTimeProvider(),
            NullLogger.Instance,
            onIdle: onIdle);

    /// <summary>Publishes one slice of raw bytes on the mount (bypassing any container ingest), in a chunk of its own.</summary>
    public static void PublishRaw(Mount mount, byte[] bytes, long start, long end, bool keyframe, JoinHeaders? headers = null)
    {
        var builder = new SliceBuilder(mount.Pool);
        if (keyframe)
        {
            builder.BeginKeyframe(headers);
        }
        builder.Append(bytes);
        builder.MarkTime(start);
        builder.MarkTime(end);
        mount.Publish(builder);
        builder.Discard();
    }

    /// <summary>Publishes a synthetic FLV frame at <paramref name="time"/> ms: a keyframe with H.264 join headers, or an inter frame.</summary>
    public static void PublishFlv(Mount mount, long time, bool keyframe) =>
        PublishRaw(mount, keyframe ? FlvSynth.Keyframe((uint)time) : FlvSynth.Inter((uint)time), time, time, keyframe,
            keyframe ? new FlvJoinHeaders(FlvSynth.Header(), null, FlvSynth.AvcConfig(0), null, ["h264"]) : null);

    /// <summary>A copy of every slice the ring holds, oldest first.</summary>
    public static List<SliceCopy> Snapshot(Ring ring)
    {
        var result = new List<SliceCopy>();
        for (var sequence = ring.Tail; sequence < ring.Head; sequence++)
        {
            if (ring.TryGet(sequence, out var slice))
            {
                result.Add(new SliceCopy(slice.Sequence, slice.StartTime, slice.EndTime, slice.IsKeyframe, slice.Span.ToArray(), slice.Headers));
                slice.Release();
            }
        }
        return result;
    }

    /// <summary>A two-segment sequence split at <paramref name="split"/>.</summary>
    public static ReadOnlySequence<byte> TwoSegments(byte[] data, int split)
    {
        return Sequences.SplitAt(data, split);
    }

    /// <summary>Feeds <paramref name="data"/> in chunks of <paramref name="chunk"/> bytes, keeping what the ingest did not consume (as a PipeReader would).</summary>
    public static void FeedInChunks(IContainerIngest ingest, byte[] data, int chunk, bool flushEachRead)
    {
        var pending = new List<byte>();
        for (var offset = 0; offset < data.Length; offset += chunk)
        {
            pending.AddRange(data.AsSpan(offset, Math.Min(chunk, data.Length - offset)));
            var buffer = new ReadOnlySequence<byte>(pending.ToArray());
            var consumed = ingest.Process(buffer);
            var used = (int)buffer.Slice(0, consumed).Length;
            pending.RemoveRange(0, used);
            if (flushEachRead)
            {
                ingest.Flush();
            }
        }
        ingest.Flush();
    }
}

internal sealed record SliceCopy(long Sequence, long StartTime, long EndTime, bool IsKeyframe, byte[] Bytes, JoinHeaders? Headers);

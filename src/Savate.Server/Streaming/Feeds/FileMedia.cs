using System.Buffers;
using Savate.Flv;
using Savate.Mpegts;
using Savate.Server.Configuration;

namespace Savate.Server.Streaming.Feeds;

/// <summary>A unit run of a media file and the media time (ms from the file's start) it is due at.</summary>
internal readonly record struct PacedChunk(int Offset, int Length, long Time);

/// <summary>
/// A fallback file, read once and indexed into chunks with their media times, so that it can be
/// played in real time by its own timestamps (variable bitrate included) and looped without a gap.
/// </summary>
internal sealed class FileMedia
{
    // Units due within this much of each other are sent together: fewer wake-ups, same pacing.
    private const long ChunkWindow = 20;

    // Fallback files are short clips held in memory; a larger one is almost certainly a mistake.
    private const long MaxFileBytes = 256L * 1024 * 1024;

    private FileMedia(string path, MountFormat format, byte[] bytes, int headerLength, PacedChunk[] chunks, long duration)
    {
        Path = path;
        Format = format;
        Bytes = bytes;
        HeaderLength = headerLength;
        Chunks = chunks;
        Duration = duration;
    }

    public string Path { get; }

    public MountFormat Format { get; }

    public byte[] Bytes { get; }

    /// <summary>The FLV file header (with PreviousTagSize0): sent on the first pass only.</summary>
    public int HeaderLength { get; }

    public PacedChunk[] Chunks { get; }

    /// <summary>Media time of one pass, including one frame after the last unit, so a loop leaves no gap and no overlap.</summary>
    public long Duration { get; }

    /// <summary>Reads and indexes the file; throws <see cref="InvalidDataException"/> naming it when it is not usable.</summary>
    public static FileMedia Load(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new InvalidDataException($"fallback file {path} does not exist");
        }
        if (info.Length > MaxFileBytes)
        {
            throw new InvalidDataException($"fallback file {path} is {info.Length} bytes; at most {MaxFileBytes} are supported");
        }
        var bytes = File.ReadAllBytes(path);
        var sequence = new ReadOnlySequence<byte>(bytes);
        var format = Streaming.FormatSniffer.Sniff(sequence, final: true);
        try
        {
            return format switch
            {
                MountFormat.Flv => IndexFlv(path, bytes),
                MountFormat.Mpegts => IndexTs(path, bytes),
                _ => throw new InvalidDataException($"fallback file {path} is neither FLV nor MPEG-TS"),
            };
        }
        catch (Exception e) when (e is FlvFormatException or TsFormatException)
        {
            throw new InvalidDataException($"fallback file {path} is not valid: {e.Message}", e);
        }
    }

    private static FileMedia IndexFlv(string path, byte[] bytes)
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
        var flv = new FlvReader(new FlvReaderOptions { ValidatePreviousTagSize = false });
        if (!flv.TryReadHeader(ref reader, out _))
        {
            throw new InvalidDataException($"fallback file {path} is too short to be FLV");
        }
        var headerLength = (int)reader.Consumed;
        var units = new List<PacedChunk>();
        long? first = null;
        var tracks = new TrackEnds();
        while (flv.TryReadTag(ref reader, out var tag))
        {
            var offset = (int)(reader.Consumed - tag.TotalSize);
            long time = tag.Timestamp;
            if (tag.Kind is FlvPacketKind.Media)
            {
                first ??= time;
                tracks.Observe((int)tag.Type, time);
            }
            units.Add(new PacedChunk(offset, tag.TotalSize, time));
        }
        if (first is null)
        {
            throw new InvalidDataException($"fallback file {path} has no audio or video");
        }
        return Build(path, MountFormat.Flv, bytes, headerLength, units, first.Value, tracks.End);
    }

    private static FileMedia IndexTs(string path, byte[] bytes)
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
        var demuxer = new TsDemuxer();
        var units = new List<PacedChunk>();
        long? first = null;
        long current = 0;
        var tracks = new TrackEnds();
        while (demuxer.TryRead(ref reader, out var packet))
        {
            var offset = (int)reader.Consumed - TsPacketHeader.PacketSize;
            var raw = packet.Dts >= 0 ? packet.Dts : packet.Pts;
            if (raw >= 0 && packet.Kind is TsPacketKind.Video or TsPacketKind.Audio)
            {
                tracks.Observe(packet.Header.Pid, raw / 90);
            }
            if (raw >= 0 && (packet.Kind == TsPacketKind.Video || demuxer.Program is { HasVideo: false }))
            {
                var ms = raw / 90;
                first ??= ms;
                current = ms;
            }
            units.Add(new PacedChunk(offset, TsPacketHeader.PacketSize, first is null ? 0 : current));
        }
        if (first is null)
        {
            throw new InvalidDataException($"fallback file {path} has no timed audio or video");
        }
        // Packets before the first timestamp are due with it.
        for (var i = 0; i < units.Count && units[i].Time == 0; i++)
        {
            units[i] = units[i] with { Time = first.Value };
        }
        return Build(path, MountFormat.Mpegts, bytes, 0, units, first.Value, tracks.End);
    }

    private static FileMedia Build(string path, MountFormat format, byte[] bytes, int headerLength, List<PacedChunk> units, long first, long end)
    {
        var chunks = new List<PacedChunk>();
        foreach (var unit in units)
        {
            var time = Math.Max(0, unit.Time - first);
            if (chunks.Count > 0 && chunks[^1] is var previous && previous.Offset + previous.Length == unit.Offset && time - previous.Time < ChunkWindow && time >= previous.Time)
            {
                chunks[^1] = previous with { Length = previous.Length + unit.Length };
            }
            else
            {
                // Timestamps that go backwards (B-frames in TS, interleaving) are due no earlier than the previous chunk.
                chunks.Add(new PacedChunk(unit.Offset, unit.Length, chunks.Count > 0 ? Math.Max(time, chunks[^1].Time) : time));
            }
        }
        return new FileMedia(path, format, bytes, headerLength, [.. chunks], Math.Max(1, end - first));
    }

    /// <summary>
    /// Where each stream of the file ends: its last timestamp plus its last frame duration. A pass
    /// lasts until the latest of them, so on a loop every stream continues after its own last frame.
    /// </summary>
    private sealed class TrackEnds
    {
        private readonly Dictionary<int, (long Last, long Step)> _tracks = [];

        public long End => _tracks.Count == 0 ? 0 : _tracks.Values.Max(t => t.Last + t.Step);

        public void Observe(int track, long time)
        {
            if (_tracks.TryGetValue(track, out var t))
            {
                if (time > t.Last)
                {
                    _tracks[track] = (time, Math.Clamp(time - t.Last, 1, 1000));
                }
            }
            else
            {
                _tracks[track] = (time, 40);
            }
        }
    }
}

using System.Buffers;
using Microsoft.Extensions.Logging;
using Savate.Flv;
using Savate.Mpegts;
using Savate.Mpegts.Muxing;
using Savate.Server.Configuration;
using Savate.Server.Streaming;

namespace Savate.Server.Hls;

/// <summary>
/// Cuts a mount's stream into HLS segments. It is the sink of an ordinary <see cref="Listener"/> on the mount's
/// ring, so it gets what every listener gets: a keyframe join with the join headers, fallback switches on
/// keyframes with a continuous timeline and new configuration in-band, and the lag policy. FLV is remuxed to
/// MPEG-TS (<see cref="FlvTsRemuxer"/>); MPEG-TS is cut as it is, each segment led by the latest PAT and PMT.
/// A segment starts at a join point once <c>segment-duration</c> has passed since the last cut, at once when the
/// codec configuration changed (then with EXT-X-DISCONTINUITY), and, should a GOP outgrow the fixed target
/// duration, at the last frame that keeps EXTINF within it. Audio goes to the segment its PTS falls in (from the
/// segment's first video PTS on): a finished segment waits, at most <see cref="AudioHoldMilliseconds"/> of video, for
/// the audio muxers interleave after the cut; a TS AAC PES spanning the cut is split there.
/// </summary>
internal sealed class HlsSegmenter : IListenerSink
{
    // A segment that grows past this without a cut (a source without keyframes) is dropped.
    private const int MaxSegmentBytes = 32 * 1024 * 1024;

    // EXTINF, rounded to the nearest integer, must not exceed the target duration (RFC 8216 4.3.3.1). A forced
    // cut (no keyframe in time) happens this much before target + 0.5 s, so that the frame after it still fits:
    // 100 ms is 2.5 frames at 25 fps.
    private const long ForcedCutMarginMilliseconds = 100;

    // A keyframe this much short of segment-duration still ends a segment: encoders' timestamps jitter by a
    // few milliseconds, and a file fallback's loop adds its last frame's duration, so a 1 s GOP gives keyframes
    // at 1.96 s or 2.04 s; without slack a 2 s segment would then take three GOPs.
    private const long CutSlackMilliseconds = 50;

    // A finished segment waits for the audio of its last moments (muxers interleave audio late) until audio at
    // or past the cut arrives, but no longer than this on the video's timeline: a stream whose audio stopped
    // or never comes is published this much late at worst.
    private const long AudioHoldMilliseconds = 1000;

    // A TS audio PES is gathered whole before it is routed (it may have to be split at a cut), up to this size;
    // a larger one (not an audio PES any muxer writes) is routed as it comes, by its PTS.
    private const int MaxAudioPesBytes = 64 * TsPacketHeader.PacketSize;

    private readonly HlsPlaylist _playlist;
    private MountFormat _format;
    private readonly long _segmentMilliseconds;
    private readonly ILogger _logger;
    private readonly string _mountPath;
    private byte[] _pending = new byte[64 * 1024];
    private int _pendingLength;
    private volatile bool _stopped;

    // FLV input.
    private FlvReader _flvReader = new(new FlvReaderOptions { ValidatePreviousTagSize = false });
    private readonly FlvTsRemuxer _remuxer = new();

    // MPEG-TS input.
    private readonly TsDemuxer _demuxer = new();
    private int _patCc;
    private int _pmtCc;
    private int _tsGeneration;
    private string _streamSignature = "";
    private byte[] _lastSps = [];
    private string? _tsVideoCodec;
    private string? _tsAudioCodec;
    private int _tsWidth;
    private int _tsHeight;
    private long _lastTs90k = long.MinValue;
    private long _tsWrapOffset;
    private AudioPes[] _audioPes = [];
    private readonly TsMuxer _audioPacketizer = new();
    private readonly ArrayBufferWriter<byte> _audioEs = new(8 * 1024);

    // The segment being built.
    private ArrayBufferWriter<byte>? _current;
    private long _segmentStart;
    private int _segmentGeneration;
    private bool _segmentKeyframe;
    private bool _nextDiscontinuity;
    // First video PTS of the segment being built (90 kHz, on the unwrapped timeline), long.MinValue before it:
    // audio before it belongs to the previous segment.
    private long _segmentVideoPts = long.MinValue;

    // The finished segment waiting for its late audio (see AudioHoldMilliseconds).
    private ArrayBufferWriter<byte>? _held;
    private long _heldStart;
    private long _heldDuration;
    private long _heldUntil;
    private bool _heldDiscontinuity;
    private bool _heldKeyframe;

    private long _malformed;
    private long _forcedCuts;

    public HlsSegmenter(HlsPlaylist playlist, MountFormat format, HlsConfig config, ILogger logger, string mountPath, bool startWithDiscontinuity)
    {
        _playlist = playlist;
        _format = format;
        _segmentMilliseconds = (long)config.SegmentDuration.TotalMilliseconds;
        _logger = logger;
        _mountPath = mountPath;
        _nextDiscontinuity = startWithDiscontinuity;
    }

    /// <summary>Segments published by this run.</summary>
    public long Segments { get; private set; }

    /// <summary>
    /// Audio dropped because it belongs before the segment it came in (before the first keyframe, or late for
    /// a segment already published): FLV frames, TS PES or the head of a split one.
    /// </summary>
    public long AudioDropped { get; private set; }

    public ValueTask<bool> WriteAsync(ReadOnlyMemory<ReadOnlyMemory<byte>> buffers, CancellationToken cancellationToken)
    {
        if (_stopped)
        {
            return ValueTask.FromResult(false);
        }
        foreach (var buffer in buffers.Span)
        {
            Append(buffer.Span);
        }
        if (_format == MountFormat.Auto)
        {
            // A mount whose format no source has told yet (a relay pulled on demand by this very segmenter):
            // a listener's stream starts with the FLV header or with a TS packet.
            if (_pendingLength == 0)
            {
                return ValueTask.FromResult(true);
            }
            _format = _pending[0] == (byte)'F' ? MountFormat.Flv : MountFormat.Mpegts;
        }
        int consumed;
        try
        {
            consumed = _format == MountFormat.Flv ? ProcessFlv() : ProcessTs();
        }
        catch (Exception ex) when (ex is FlvFormatException or TsFormatException)
        {
            // The ring only holds what an ingest already framed, so this is a bug or a hostile relay: stop this run.
            HlsLog.SegmenterInputError(_logger, _mountPath, ex.Message);
            _stopped = true;
            return ValueTask.FromResult(false);
        }
        _pending.AsSpan(consumed, _pendingLength - consumed).CopyTo(_pending);
        _pendingLength -= consumed;
        return ValueTask.FromResult(!_stopped);
    }

    public void Abort() => _stopped = true;

    private int ProcessFlv()
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(_pending, 0, _pendingLength));
        while (_flvReader.TryReadTag(ref reader, out var tag))
        {
            var type = (int)tag.Type;
            if (type is not (8 or 9))
            {
                continue;
            }
            var data = tag.Data.FirstSpan; // one array: the tag is contiguous
            var time = (long)tag.Timestamp;
            var kind = _remuxer.Classify(type, data);
            var audioOnly = _remuxer.Video is null;
            switch (kind)
            {
                case FlvTsFrame.Config:
                    _remuxer.Write(type, time, data, NullWriter.Instance);
                    continue;
                case FlvTsFrame.VideoKeyframe:
                case FlvTsFrame.Audio when audioOnly:
                    OnJoinPoint(time, _remuxer.ConfigGeneration);
                    break;
                case FlvTsFrame.Video:
                case FlvTsFrame.Audio:
                    if (_current is null)
                    {
                        continue; // waiting for the first keyframe
                    }
                    if (kind == FlvTsFrame.Video)
                    {
                        CheckForcedCut(time);
                    }
                    break;
                default:
                    continue;
            }
            if (_current is null)
            {
                continue;
            }
            IBufferWriter<byte> output = _current;
            if (kind == FlvTsFrame.Audio && !audioOnly)
            {
                // Each audio frame goes to the segment its PTS falls in: the muxer may interleave it after the keyframe.
                if (time * 90 >= _segmentVideoPts)
                {
                    ReleaseHeld();
                }
                else if (_held is not null)
                {
                    output = _held;
                }
                else
                {
                    AudioDropped++;
                    continue;
                }
            }
            var written = _remuxer.Write(type, time, data, output);
            if (written == FlvTsFrame.Malformed)
            {
                OnMalformed();
            }
            else if (written is FlvTsFrame.VideoKeyframe or FlvTsFrame.Video)
            {
                if (_segmentVideoPts == long.MinValue)
                {
                    _segmentVideoPts = _remuxer.LastVideoPts;
                }
                CheckHoldBound(time);
            }
            CheckSize();
        }
        return (int)reader.Consumed;
    }

    private int ProcessTs()
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(_pending, 0, _pendingLength));
        Span<byte> packet = stackalloc byte[TsPacketHeader.PacketSize];
        while (_demuxer.TryRead(ref reader, out var info))
        {
            info.Bytes.CopyTo(packet);
            if (info.ProgramChanged && _demuxer.Program is { } program)
            {
                var signature = string.Join(",", program.Streams.Select(s => $"{s.Pid}:{s.StreamType}"));
                if (signature != _streamSignature)
                {
                    _streamSignature = signature;
                    _tsGeneration++;
                    _tsAudioCodec = null;
                    _audioPes = [];
                }
            }
            switch (info.Kind)
            {
                case TsPacketKind.Null:
                    continue;
                case TsPacketKind.Pat:
                case TsPacketKind.Pmt:
                    // Carried by each segment's leading copy; the stream's own repeats follow with our counters.
                    if (_current is not null)
                    {
                        TsRewriter.SetContinuityCounter(packet, info.Kind == TsPacketKind.Pat ? Next(ref _patCc) : Next(ref _pmtCc));
                        _current.Write(packet);
                    }
                    continue;
            }
            var hasVideo = _demuxer.Program?.HasVideo ?? false;
            var startsPes = info.Pts >= 0;
            var time = startsPes ? Unwrap(info.Dts >= 0 ? info.Dts : info.Pts) / 90 : 0;
            if (hasVideo && info.Kind == TsPacketKind.Audio)
            {
                if (startsPes && _current is not null && _tsAudioCodec is null
                    && TsCodecProbe.TryReadAdts(TsCodecProbe.PesPayload(packet), out var adts))
                {
                    _tsAudioCodec = adts.CodecString;
                    PublishTsCodecs();
                }
                OnTsAudio(packet, info.Header.Pid, startsPes ? Unwrap(info.Pts) : -1);
                continue;
            }
            if (info.IsRandomAccess)
            {
                if (info.Kind == TsPacketKind.Video)
                {
                    ProbeVideo(packet);
                }
                OnJoinPoint(time, _tsGeneration);
            }
            else if (_current is null)
            {
                continue;
            }
            else if (startsPes && (info.Kind == TsPacketKind.Video || (!hasVideo && info.Kind == TsPacketKind.Audio)))
            {
                CheckForcedCut(time);
            }
            if (startsPes && info.Kind == TsPacketKind.Audio && _tsAudioCodec is null
                && TsCodecProbe.TryReadAdts(TsCodecProbe.PesPayload(packet), out var audio))
            {
                _tsAudioCodec = audio.CodecString;
                PublishTsCodecs();
            }
            if (startsPes && info.Kind == TsPacketKind.Video)
            {
                if (_segmentVideoPts == long.MinValue)
                {
                    _segmentVideoPts = Unwrap(info.Pts);
                }
                CheckHoldBound(time);
            }
            _current!.Write(packet);
            CheckSize();
        }
        return (int)reader.Consumed;
    }

    /// <summary>
    /// An audio packet of a program with video. Each PES is gathered, then goes to the segment its PTS falls in;
    /// an AAC PES whose frames span the cut is split there (the muxer may pack several hundred ms in one PES).
    /// </summary>
    private void OnTsAudio(ReadOnlySpan<byte> packet, int pid, long pts)
    {
        var pes = FindAudioPes(pid);
        var header = TsPacketHeader.Parse(packet);
        if (pts >= 0)
        {
            CompleteAudioPes(pes);
            if (_current is not null && pts >= _segmentVideoPts)
            {
                ReleaseHeld(); // the audio has passed the cut
            }
            pes.Pts = pts;
            pes.Started = true;
            pes.Whole = false;
            pes.Received = 0;
            pes.Size = header.PayloadOffset < TsPacketHeader.PacketSize ? AdtsPes.PesSize(packet[header.PayloadOffset..]) : 0;
        }
        else if (!pes.Started)
        {
            return; // the rest of a PES whose start came before the join
        }
        if (pes.Length == pes.Packets.Length)
        {
            if (pes.Length >= MaxAudioPesBytes)
            {
                // Too large to gather: what came so far goes by the PES's PTS, and so will the rest.
                RouteAudioPes(pes, pes.Packets.AsSpan(0, pes.Length));
                pes.Length = 0;
                pes.Whole = true;
            }
            else
            {
                Array.Resize(ref pes.Packets, pes.Packets.Length * 2);
            }
        }
        packet.CopyTo(pes.Packets.AsSpan(pes.Length));
        pes.Length += TsPacketHeader.PacketSize;
        pes.Received += TsPacketHeader.PacketSize - header.PayloadOffset;
        if (pes.Size > 0 && pes.Received >= pes.Size)
        {
            CompleteAudioPes(pes);
        }
    }

    private AudioPes FindAudioPes(int pid)
    {
        foreach (var pes in _audioPes)
        {
            if (pes.Pid == pid)
            {
                return pes;
            }
        }
        var adts = _demuxer.Program?.Streams.FirstOrDefault(s => s.Pid == pid)?.StreamType == 0x0F;
        var added = new AudioPes(pid, adts);
        _audioPes = [.. _audioPes, added];
        return added;
    }

    private void CompleteAudioPes(AudioPes pes)
    {
        if (pes.Started && pes.Length > 0)
        {
            RouteAudioPes(pes, pes.Packets.AsSpan(0, pes.Length));
        }
        pes.Length = 0;
        pes.Started = false;
    }

    private void RouteAudioPes(AudioPes pes, ReadOnlySpan<byte> packets)
    {
        if (_current is null)
        {
            AudioDropped++;
            return;
        }
        if (pes.Pts >= _segmentVideoPts)
        {
            WriteAudioPackets(_current, pes, packets);
            ReleaseHeld();
            return;
        }
        if (pes.Adts && !pes.Whole)
        {
            _audioEs.ResetWrittenCount();
            if (AdtsPes.TryReadPes(packets, _audioEs, out _, out var streamId)
                && AdtsPes.TryFindSplit(_audioEs.WrittenSpan, pes.Pts, _segmentVideoPts, out var split, out var splitPts)
                && split > 0 && split < _audioEs.WrittenCount)
            {
                var es = _audioEs.WrittenMemory;
                if (_held is not null)
                {
                    _audioPacketizer.WritePes(_held, pes.Pid, ref pes.Cc, streamId, new ReadOnlySequence<byte>(es[..split]), pes.Pts);
                }
                else
                {
                    AudioDropped++;
                }
                _audioPacketizer.WritePes(_current, pes.Pid, ref pes.Cc, streamId, new ReadOnlySequence<byte>(es[split..]), splitPts);
                ReleaseHeld();
                return;
            }
        }
        if (_held is not null)
        {
            WriteAudioPackets(_held, pes, packets);
        }
        else
        {
            AudioDropped++;
        }
    }

    /// <summary>Copies an audio PES's packets with the segmenter's continuity counter for the PID (a split or dropped PES leaves no gap).</summary>
    private static void WriteAudioPackets(ArrayBufferWriter<byte> output, AudioPes pes, ReadOnlySpan<byte> packets)
    {
        Span<byte> packet = stackalloc byte[TsPacketHeader.PacketSize];
        for (var offset = 0; offset + TsPacketHeader.PacketSize <= packets.Length; offset += TsPacketHeader.PacketSize)
        {
            packets.Slice(offset, TsPacketHeader.PacketSize).CopyTo(packet);
            if ((packet[3] & 0x10) != 0)
            {
                TsRewriter.SetContinuityCounter(packet, Next(ref pes.Cc));
            }
            else
            {
                TsRewriter.SetContinuityCounter(packet, (pes.Cc + 15) & 0x0F); // no payload: repeats the last counter
            }
            output.Write(packet);
        }
    }
    private void ProbeVideo(ReadOnlySpan<byte> packet)
    {
        var codec = _demuxer.Program?.Streams.FirstOrDefault(s => s.Kind == TsPacketKind.Video)?.StreamType switch
        {
            0x1B => TsVideoCodec.H264,
            0x24 => TsVideoCodec.Hevc,
            _ => TsVideoCodec.None,
        };
        if (codec == TsVideoCodec.None || !TsCodecProbe.TryFindSps(TsCodecProbe.PesPayload(packet), codec, out var sps) || sps.SequenceEqual(_lastSps))
        {
            return;
        }
        if (_lastSps.Length > 0)
        {
            _tsGeneration++;
        }
        _lastSps = sps.ToArray();
        var config = VideoConfig.FromSps(codec, sps);
        _tsVideoCodec = config.CodecString;
        _tsWidth = config.Width;
        _tsHeight = config.Height;
        PublishTsCodecs();
    }

    private void PublishTsCodecs() => _playlist.Codecs = new HlsCodecs(_tsVideoCodec, _tsAudioCodec, _tsWidth, _tsHeight);

    /// <summary>A join point at <paramref name="time"/>: starts a segment when one is due.</summary>
    private void OnJoinPoint(long time, int generation)
    {
        if (_current is not null)
        {
            var changed = generation != _segmentGeneration;
            // After a forced cut the first keyframe ends the segment, so segments start on keyframes again.
            if (!changed && _segmentKeyframe && time - _segmentStart < _segmentMilliseconds - CutSlackMilliseconds)
            {
                return;
            }
            Finish(time);
            _nextDiscontinuity |= changed;
        }
        Start(time, generation, keyframe: true);
    }

    /// <summary>Before a frame that is not a join point: cut anyway if the segment would outgrow the target duration.</summary>
    private void CheckForcedCut(long time)
    {
        var target = _playlist.TargetDuration;
        if (_current is null || target == 0 || time - _segmentStart < target * 1000L + 500 - ForcedCutMarginMilliseconds)
        {
            return;
        }
        if (_forcedCuts++ == 0)
        {
            HlsLog.ForcedCut(_logger, _mountPath, target);
        }
        var generation = _segmentGeneration;
        Finish(time);
        Start(time, generation, keyframe: false);
    }

    private void Start(long time, int generation, bool keyframe)
    {
        _current = new ArrayBufferWriter<byte>(64 * 1024);
        _segmentStart = time;
        _segmentVideoPts = long.MinValue;
        _segmentGeneration = generation;
        _segmentKeyframe = keyframe;
        if (_format == MountFormat.Flv)
        {
            _remuxer.WriteProgramTables(_current);
            var video = _remuxer.Video;
            _playlist.Codecs = new HlsCodecs(video?.CodecString, _remuxer.Audio?.CodecString, video?.Width ?? 0, video?.Height ?? 0);
        }
        else
        {
            Span<byte> packet = stackalloc byte[TsPacketHeader.PacketSize];
            var tables = _demuxer.ProgramPackets.Span;
            for (var offset = 0; offset + TsPacketHeader.PacketSize <= tables.Length; offset += TsPacketHeader.PacketSize)
            {
                tables.Slice(offset, TsPacketHeader.PacketSize).CopyTo(packet);
                var pid = TsPacketHeader.Parse(packet).Pid;
                TsRewriter.SetContinuityCounter(packet, pid == 0 ? Next(ref _patCc) : Next(ref _pmtCc));
                _current.Write(packet);
            }
        }
    }

    private void Finish(long endTime)
    {
        var current = _current!;
        _current = null;
        var duration = Math.Max(0, endTime - _segmentStart);
        if (duration == 0)
        {
            return; // two cuts at one instant: nothing to play
        }
        var discontinuity = _nextDiscontinuity;
        _nextDiscontinuity = false;
        ReleaseHeld(); // still waiting for audio that never came
        if (WaitsForAudio())
        {
            _held = current;
            _heldStart = _segmentStart;
            _heldDuration = duration;
            _heldDiscontinuity = discontinuity;
            _heldKeyframe = _segmentKeyframe;
            _heldUntil = endTime + AudioHoldMilliseconds;
            return;
        }
        Publish(current, _segmentStart, duration, discontinuity, _segmentKeyframe);
    }

    /// <summary>Whether the stream has video and audio: then audio may come after the cut it belongs before.</summary>
    private bool WaitsForAudio() => _format == MountFormat.Flv
        ? _remuxer.Video is not null && _remuxer.Audio is not null
        : _demuxer.Program is { HasVideo: true } program && program.Streams.Any(s => s.Kind == TsPacketKind.Audio);

    /// <summary>Publishes the segment waiting for its audio, if any.</summary>
    private void ReleaseHeld()
    {
        if (_held is { } held)
        {
            _held = null;
            Publish(held, _heldStart, _heldDuration, _heldDiscontinuity, _heldKeyframe);
        }
    }

    /// <summary>On a video frame at <paramref name="time"/>: a segment waiting for audio longer than the bound goes out without it.</summary>
    private void CheckHoldBound(long time)
    {
        if (_held is not null && time >= _heldUntil)
        {
            ReleaseHeld();
        }
    }

    private void Publish(ArrayBufferWriter<byte> data, long start, long duration, bool discontinuity, bool keyframe)
    {
        if (_playlist.TargetDuration == 0)
        {
            // The first segment is segment-duration rounded up to the stream's GOP: that fixes the target, as
            // segment-duration rounded up to whole seconds or the first segment's duration rounded, whichever is larger.
            var seconds = Math.Max((int)Math.Ceiling(_segmentMilliseconds / 1000.0 - 0.0005), (int)Math.Round(duration / 1000.0, MidpointRounding.AwayFromZero));
            HlsLog.TargetDurationFixed(_logger, _mountPath, _playlist.FixTargetDuration(seconds));
        }
        var segment = _playlist.Add(data.WrittenSpan.ToArray(), start, duration, discontinuity, keyframe);
        Segments++;
        HlsLog.SegmentPublished(_logger, _mountPath, segment.Sequence, duration, segment.Data.Length);
    }

    private void CheckSize()
    {
        if (_current is { WrittenCount: > MaxSegmentBytes })
        {
            HlsLog.SegmentTooLarge(_logger, _mountPath, MaxSegmentBytes);
            _current = null;
            _nextDiscontinuity = true;
        }
    }

    private void OnMalformed()
    {
        if (_malformed++ % 1000 == 0)
        {
            HlsLog.MalformedFrame(_logger, _mountPath, _malformed);
        }
    }

    /// <summary>A 90 kHz timestamp on the unwrapped timeline.</summary>
    private long Unwrap(long ts90k)
    {
        // The 33-bit clock wraps every 26.5 hours: keep the timeline going up.
        if (_lastTs90k != long.MinValue && ts90k + _tsWrapOffset < _lastTs90k - (1L << 32))
        {
            _tsWrapOffset += 1L << 33;
        }
        var unwrapped = ts90k + _tsWrapOffset;
        _lastTs90k = unwrapped;
        return unwrapped;
    }

    private static int Next(ref int cc)
    {
        var value = cc;
        cc = (cc + 1) & 0x0F;
        return value;
    }

    private void Append(ReadOnlySpan<byte> data)
    {
        if (_pendingLength + data.Length > _pending.Length)
        {
            Array.Resize(ref _pending, Math.Max(_pending.Length * 2, _pendingLength + data.Length));
        }
        data.CopyTo(_pending.AsSpan(_pendingLength));
        _pendingLength += data.Length;
    }

    /// <summary>An audio PID's PES being gathered.</summary>
    private sealed class AudioPes(int pid, bool adts)
    {
        public readonly int Pid = pid;
        public readonly bool Adts = adts;
        public byte[] Packets = new byte[16 * TsPacketHeader.PacketSize];
        public int Length;
        public bool Started;
        public bool Whole; // too large to gather: routed as it comes, never split
        public long Pts;
        public int Size; // PES_packet_length + 6, or 0 when unbounded
        public int Received;
        public int Cc;
    }

    /// <summary>An output for configuration tags, which write nothing.</summary>
    private sealed class NullWriter : IBufferWriter<byte>
    {
        public static readonly NullWriter Instance = new();

        public void Advance(int count)
        {
        }

        public Memory<byte> GetMemory(int sizeHint = 0) => new byte[Math.Max(sizeHint, 1)];

        public Span<byte> GetSpan(int sizeHint = 0) => new byte[Math.Max(sizeHint, 1)];
    }
}

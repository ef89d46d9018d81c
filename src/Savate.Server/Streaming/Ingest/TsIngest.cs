using System.Buffers;
using Savate.Mpegts;

namespace Savate.Server.Streaming.Ingest;

/// <summary>
/// MPEG-TS source → slices. The demuxer resyncs on the 0x47 stride, tracks PAT/PMT and marks join
/// points (video PES starting a random access point; any audio PES when there is no video). A join
/// point starts a new slice; PAT+PMT are kept aside as join headers. Null packets are dropped.
/// Media time for lag comes from the PES timestamps (DTS, else PTS) of the video stream (the audio
/// one when there is no video), unwrapped from 33 bits.
/// </summary>
internal sealed class TsIngest : IContainerIngest
{
    private const int MaxSliceBytes = 512 * 1024;
    private const long PtsWrap = 1L << 33;

    private readonly Mount _mount;
    private readonly SliceBuilder _builder;
    private readonly TsDemuxer _demuxer;
    private bool _waitingForKeyframe = true;
    private TimelineOffset _offset;
    private long _lastRaw = -1;
    private long _unwrapped;
    private bool _hasVideo;

    public TsIngest(Mount mount, TsDemuxerOptions? options = null)
    {
        _mount = mount;
        _builder = new SliceBuilder(mount.Pool);
        _demuxer = new TsDemuxer(options);
    }

    public long SkippedBytes => _demuxer.SkippedBytes;

    public SequencePosition Process(in ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        while (_demuxer.TryRead(ref reader, out var packet))
        {
            OnPacket(packet);
        }
        return reader.Position;
    }

    public void Flush() => _mount.Publish(_builder);

    public void Abandon() => _builder.Discard();

    private void OnPacket(in TsPacketInfo packet)
    {
        if (packet.ProgramChanged)
        {
            UpdateHeaders();
        }
        switch (packet.Kind)
        {
            case TsPacketKind.Null:
                return;
            case TsPacketKind.Pat:
            case TsPacketKind.Pmt:
                _builder.Append(packet.Bytes);
                return;
        }

        if (packet.IsRandomAccess)
        {
            _waitingForKeyframe = false;
            if (!_builder.IsEmpty)
            {
                _mount.Publish(_builder);
            }
            _builder.BeginKeyframe(_mount.Headers);
            }
        else if (_waitingForKeyframe)
        {
            return;
        }

        var timed = packet.Kind == TsPacketKind.Video || (packet.Kind == TsPacketKind.Audio && !_hasVideo);
        var raw = packet.Dts >= 0 ? packet.Dts : packet.Pts;
        _builder.Append(packet.Bytes);
        if (timed && raw >= 0)
        {
            var time = _mount.Timeline.Map(Unwrap(raw) / 90, packet.Kind == TsPacketKind.Video ? Track.Video : Track.Audio, ref _offset);
            _builder.MarkTime(time);
        }
        if (_builder.Length >= MaxSliceBytes)
        {
            _mount.Publish(_builder);
        }
    }

    private long Unwrap(long raw)
    {
        if (_lastRaw < 0)
        {
            _unwrapped = raw;
        }
        else
        {
            var delta = (raw - _lastRaw + PtsWrap) % PtsWrap;
            if (delta >= PtsWrap / 2)
            {
                delta -= PtsWrap;
            }
            _unwrapped += delta;
        }
        _lastRaw = raw;
        return _unwrapped;
    }

    private void UpdateHeaders()
    {
        var program = _demuxer.Program;
        _hasVideo = program?.HasVideo ?? false;
        if (program is null)
        {
            // A PAT pointing elsewhere: keep the last complete headers until the new PMT arrives.
            return;
        }
        var codecs = program.Streams.Select(s => s.Codec).Distinct().ToArray();
        _mount.Headers = new TsJoinHeaders(_demuxer.ProgramPackets.ToArray(), codecs);
    }
}

using System.Buffers;
using Savate.Mpegts;

namespace Savate.Server.Streaming.Ingest;

/// <summary>
/// MPEG-TS feed → slices. The demuxer resyncs on the 0x47 stride, tracks PAT/PMT and marks join points
/// (video PES starting a random access point; any audio PES when there is no video). A join point starts
/// a new slice; PAT+PMT are kept aside as join headers. Null packets are dropped.
/// <para>
/// The mount owns the output timeline: each packet's continuity counter is rewritten to continue the
/// mount's, PCR/PTS/DTS are shifted so that a new feed (or a file loop) continues just after what was
/// sent, PAT/PMT versions are bumped when the program changes, and after a switch the first packet of
/// each PID carries the discontinuity indicator (an adaptation-field-only packet is inserted before it
/// when it has no adaptation field), so decoders carry on.
/// </para>
/// </summary>
internal sealed class TsIngest : IngestBase
{
    private const long Wrap = 1L << 33;
    private const long SpliceGap = 3600;           // 40 ms at 90 kHz
    private const long MaxBackwardJump = 90_000;   // 1 s
    private const long MaxForwardJump = 900_000;   // 10 s
    private const long RatchetWindow = 180_000;    // 2 s after a re-base

    private readonly TsDemuxer _demuxer;
    private readonly TsOutputState _output;
    private readonly bool[] _needsDiscontinuity = new bool[TsOutputState.PidCount];
    private bool _hasVideo;
    private bool _shiftSet;
    private long _shift;
    private long _rebasedAt;
    private long _lastRawPes = -1;
    private long _unwrappedPes;
    private long _lastRawPcr = -1;
    private long _unwrappedPcr;
    private string? _signature;

    public TsIngest(IIngestTarget mount, TsDemuxerOptions? options = null)
        : base(mount)
    {
        _demuxer = new TsDemuxer(options);
        _output = mount.TsOutput;
    }

    public long SkippedBytes => _demuxer.SkippedBytes;

    protected override SequencePosition Parse(in ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        while (_demuxer.TryRead(ref reader, out var packet))
        {
            OnPacket(packet);
        }
        return reader.Position;
    }

    protected override void OnActivated()
    {
        _shiftSet = false;
        Array.Copy(_output.Seen, _needsDiscontinuity, TsOutputState.PidCount);
        if (_demuxer.Program is not null)
        {
            // Restamps the join headers with the mount's PSI version (bumped if the program differs).
            UpdateProgram();
        }
    }

    protected override void AppendConfiguration()
    {
        if (Headers is TsJoinHeaders headers)
        {
            for (var offset = 0; offset + TsPacketHeader.PacketSize <= headers.ProgramPackets.Length; offset += TsPacketHeader.PacketSize)
            {
                var span = Builder.Append(headers.ProgramPackets.AsSpan(offset, TsPacketHeader.PacketSize));
                RewriteContinuity(span, TsPacketHeader.Parse(span));
            }
        }
    }

    /// <summary>
    /// PAT and PMT numbered to end at the counters the mount last sent on their PIDs: a listener joining here
    /// sees the source's next PAT and PMT continue them.
    /// </summary>
    protected override JoinHeaders? HeadersAtJoinPoint() =>
        Headers is TsJoinHeaders headers ? headers.NumberedFor(_output) : Headers;

    private void OnPacket(in TsPacketInfo packet)
    {
        if (packet.ProgramChanged)
        {
            UpdateProgram();
        }
        if (packet.Kind == TsPacketKind.Null || !(packet.IsRandomAccess ? ActiveAtJoinPoint() : Active))
        {
            return;
        }
        if (packet.Kind is TsPacketKind.Pat or TsPacketKind.Pmt)
        {
            // Before the first join point, PAT/PMT go out with it (AppendConfiguration).
            if (!WaitingForKeyframe)
            {
                var psi = Builder.Append(packet.Bytes);
                if (packet.Header.PayloadUnitStart)
                {
                    TsRewriter.TrySetPsiVersion(psi, _output.PsiVersion);
                }
                RewriteContinuity(psi, packet.Header);
            }
            return;
        }

        if (packet.IsRandomAccess)
        {
            StartJoinPoint();
        }
        else if (WaitingForKeyframe)
        {
            return;
        }

        var pid = packet.Header.Pid;
        var markDiscontinuity = false;
        if (_needsDiscontinuity[pid])
        {
            _needsDiscontinuity[pid] = false;
            // An adaptation field of at least one byte can carry the flag; otherwise an
            // adaptation-field-only packet (which does not advance the counter) carries it.
            markDiscontinuity = packet.Header.HasAdaptationField && packet.Header.PayloadOffset >= 6;
            if (!markDiscontinuity)
            {
                Span<byte> marker = stackalloc byte[TsPacketHeader.PacketSize];
                TsRewriter.WriteDiscontinuityPacket(marker, pid, _output.ContinuityCounters[pid]);
                Builder.Append(marker);
            }
        }

        var span = Builder.Append(packet.Bytes);
        if (markDiscontinuity)
        {
            TsRewriter.SetDiscontinuityIndicator(span);
        }
        RewriteTime(span, packet);
        RewriteContinuity(span, packet.Header);
        CutIfLarge();
    }

    private void RewriteTime(Span<byte> span, in TsPacketInfo packet)
    {
        var rawPes = packet.Dts >= 0 ? packet.Dts : packet.Pts;
        var rawPcr = packet.Header.Pcr >= 0 ? packet.Header.Pcr / 300 : -1;
        if (rawPes < 0 && rawPcr < 0)
        {
            return;
        }
        var sourceOffset = SourceOffset * 90;
        var pes = rawPes >= 0 ? Unwrap(rawPes, ref _lastRawPes, ref _unwrappedPes) + sourceOffset : long.MinValue;
        var pcr = rawPcr >= 0 ? Unwrap(rawPcr, ref _lastRawPcr, ref _unwrappedPcr) + sourceOffset : long.MinValue;
        var pid = packet.Header.Pid;

        // Re-base on the first timestamp of the feed, or on a jump (file loop, encoder restart).
        if (!_shiftSet || Jumped(pes, _output.LastPes) || Jumped(pcr, _output.LastPcr))
        {
            var (value, last) = pes != long.MinValue ? (pes, _output.LastPes) : (pcr, _output.LastPcr);
            _shift = last == long.MinValue ? 0 : last + SpliceGap - value;
            _shiftSet = true;
            _rebasedAt = value;
            if (last != long.MinValue)
            {
                Mount.Timeline.NoteDiscontinuity();
            }
        }
        // Streams of one feed are interleaved with a lead of their own: after a re-base, a stream whose
        // first timestamp would not pass what the mount last sent on it moves every stream forward a little.
        if (pes != long.MinValue && _output.LastPesByPid[pid] != long.MinValue && pes + _shift <= _output.LastPesByPid[pid]
            && pes - _rebasedAt < RatchetWindow)
        {
            _shift += _output.LastPesByPid[pid] + 1 - (pes + _shift);
        }
        var total = _shift + sourceOffset;
        if (total != 0)
        {
            TsRewriter.ShiftTimestamps(span, ((total % Wrap) + Wrap) % Wrap);
        }
        if (pes != long.MinValue)
        {
            _output.LastPesByPid[pid] = Math.Max(_output.LastPesByPid[pid], pes + _shift);
        }
        if (pcr != long.MinValue)
        {
            _output.LastPcr = Math.Max(_output.LastPcr, pcr + _shift);
        }
        if (pes != long.MinValue)
        {
            var time = pes + _shift;
            var timed = packet.Kind == TsPacketKind.Video || (packet.Kind == TsPacketKind.Audio && !_hasVideo);
            if (time > _output.LastPes)
            {
                _output.LastPes = time;
            }
            if (timed)
            {
                var ms = time / 90;
                Mount.Timeline.Observe(ms, packet.Kind == TsPacketKind.Video ? Track.Video : Track.Audio);
                Builder.MarkTime(ms);
            }
        }

        bool Jumped(long value, long last) =>
            value != long.MinValue && last != long.MinValue && _shiftSet
            && (value + _shift < last - MaxBackwardJump || value + _shift > last + MaxForwardJump);
    }

    private void RewriteContinuity(Span<byte> span, in TsPacketHeader header)
    {
        var pid = header.Pid;
        int cc;
        if (!_output.Seen[pid])
        {
            cc = header.ContinuityCounter;
            _output.Seen[pid] = true;
        }
        else
        {
            cc = header.HasPayload ? (_output.ContinuityCounters[pid] + 1) & 0x0F : _output.ContinuityCounters[pid];
        }
        _output.ContinuityCounters[pid] = (byte)cc;
        TsRewriter.SetContinuityCounter(span, cc);
    }

    private static long Unwrap(long raw, ref long lastRaw, ref long unwrapped)
    {
        if (lastRaw < 0)
        {
            unwrapped = raw;
        }
        else
        {
            var delta = (raw - lastRaw + Wrap) % Wrap;
            if (delta >= Wrap / 2)
            {
                delta -= Wrap;
            }
            unwrapped += delta;
        }
        lastRaw = raw;
        return unwrapped;
    }

    private void UpdateProgram()
    {
        var program = _demuxer.Program;
        _hasVideo = program?.HasVideo ?? false;
        if (program is null)
        {
            // A PAT pointing elsewhere: keep the last complete headers until the new PMT arrives.
            return;
        }
        _signature = $"{program.ProgramNumber}:{program.PmtPid}:{program.PcrPid}:" + string.Join(",", program.Streams.Select(s => $"{s.Pid}/{s.StreamType}"));
        if (Active && _signature != _output.ProgramSignature)
        {
            BumpProgramVersion();
        }
        var packets = _demuxer.ProgramPackets.ToArray();
        for (var offset = 0; offset + TsPacketHeader.PacketSize <= packets.Length; offset += TsPacketHeader.PacketSize)
        {
            TsRewriter.TrySetPsiVersion(packets.AsSpan(offset, TsPacketHeader.PacketSize), _output.PsiVersion);
        }
        SetHeaders(new TsJoinHeaders(packets, program.Streams.Select(s => s.Codec).Distinct().ToArray()));
    }

    private void BumpProgramVersion()
    {
        if (_output.ProgramSignature is not null)
        {
            _output.PsiVersion = (_output.PsiVersion + 1) & 0x1F;
        }
        _output.ProgramSignature = _signature;
    }
}

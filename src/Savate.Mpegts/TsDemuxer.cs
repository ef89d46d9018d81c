using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Savate.Mpegts;

/// <summary>
/// Resumable MPEG-TS demuxer in the Kestrel HttpParser style: TryRead returns false when more
/// bytes are needed; it resyncs on the 0x47 stride, tracks PAT/PMT, classifies packets and finds join points.
/// </summary>
/// <remarks>Not thread-safe: one instance per input stream.</remarks>
public sealed class TsDemuxer
{
    private const int PacketSize = TsPacketHeader.PacketSize;
    private const byte SyncByte = TsPacketHeader.SyncByte;
    private const int PatPid = 0x0000;
    private const int NullPid = 0x1FFF;
    private const int PidCount = 0x2000;

    private readonly int _syncConfirmPackets;
    private readonly int _maxResyncBytes;

    // Per-PID lookups indexed by the 13-bit PID: 16 KB per demuxer buys a branch-free hot path.
    private readonly TsPacketKind[] _kinds = new TsPacketKind[PidCount];
    private readonly byte[] _streamTypes = new byte[PidCount];

    private readonly PsiSectionAssembler _pat = new();
    private readonly PsiSectionAssembler _pmt = new();

    private bool _inSync;
    private long _skippedBytes;
    private int _pendingSkippedBytes;

    private int _programNumber = -1;
    private int _pmtPid = -1;
    private bool _hasVideo;
    private TsProgramInfo? _program;
    private byte[] _patPackets = [];
    private byte[] _pmtPackets = [];
    private ReadOnlyMemory<byte> _programPackets;

    public TsDemuxer(TsDemuxerOptions? options = null)
    {
        options ??= new TsDemuxerOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.SyncConfirmPackets, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegative(options.MaxResyncBytes, nameof(options));
        _syncConfirmPackets = options.SyncConfirmPackets;
        _maxResyncBytes = options.MaxResyncBytes;
    }

    /// <summary>The program from the latest PAT/PMT, or null before both were seen.</summary>
    public TsProgramInfo? Program => _program;

    /// <summary>The packets that carried the latest PAT then the latest PMT, concatenated (a multiple of 188 bytes), or empty.</summary>
    /// <remarks>Empty exactly when <see cref="Program"/> is null. A new array on each change: a reference held by a reader stays valid.</remarks>
    public ReadOnlyMemory<byte> ProgramPackets => _programPackets;

    /// <summary>Total garbage bytes skipped so far.</summary>
    public long SkippedBytes => _skippedBytes;

    public bool TryRead(ref SequenceReader<byte> reader, out TsPacketInfo packet)
    {
        var unread = reader.UnreadSpan;
        if (_inSync && unread.Length >= PacketSize && unread[0] == SyncByte)
        {
            packet = ReadPacket(ref reader, unread[..PacketSize]);
            return true;
        }

        return TryReadSlow(ref reader, out packet);
    }

    /// <summary>True when the data looks like TS: 0x47 at offset 0 and at each 188-byte stride that the span covers (at least two packets).</summary>
    public static bool LooksLikeTs(ReadOnlySpan<byte> data)
    {
        if (data.Length < 2 * PacketSize)
        {
            return false;
        }

        for (var offset = 0; offset + PacketSize <= data.Length; offset += PacketSize)
        {
            if (data[offset] != SyncByte)
            {
                return false;
            }
        }

        return true;
    }

    private bool TryReadSlow(ref SequenceReader<byte> reader, out TsPacketInfo packet)
    {
        packet = default;
        if (!_inSync || !reader.TryPeek(out var first) || first != SyncByte)
        {
            if (reader.End || !TrySync(ref reader))
            {
                return false;
            }
        }

        if (reader.Remaining < PacketSize)
        {
            return false;
        }

        var unread = reader.UnreadSpan;
        if (unread.Length >= PacketSize)
        {
            packet = ReadPacket(ref reader, unread[..PacketSize]);
        }
        else
        {
            // The packet straddles segments: parse a copy.
            Span<byte> copy = stackalloc byte[PacketSize];
            reader.TryCopyTo(copy);
            packet = ReadPacket(ref reader, copy);
        }

        return true;
    }

    /// <summary>
    /// Looks for an offset where 0x47 repeats at the 188 stride <see cref="TsDemuxerOptions.SyncConfirmPackets"/>
    /// times. Consumes the bytes proven to be garbage. Returns true, positioned on the sync byte, once
    /// confirmed; false when more bytes are needed to decide.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool TrySync(ref SequenceReader<byte> reader)
    {
        _inSync = false;
        var remaining = reader.Remaining;
        long offset = 0;
        while (true)
        {
            // Next candidate sync byte at or after offset.
            var probe = reader;
            probe.Advance(offset);
            if (!probe.TryAdvanceTo(SyncByte, advancePastDelimiter: false))
            {
                // No 0x47 at all in what is left: all of it is garbage.
                SkipGarbage(ref reader, remaining);
                return false;
            }

            offset = probe.Consumed - reader.Consumed;
            CheckResyncLimit(offset);

            var confirmed = true;
            for (var k = 1; k < _syncConfirmPackets; k++)
            {
                var next = offset + ((long)k * PacketSize);
                if (next >= remaining)
                {
                    // Cannot decide yet: keep the candidate, drop what precedes it.
                    SkipGarbage(ref reader, offset);
                    return false;
                }

                if (!reader.TryPeek(next, out var b) || b != SyncByte)
                {
                    confirmed = false;
                    break;
                }
            }

            if (confirmed)
            {
                SkipGarbage(ref reader, offset);
                _inSync = true;
                return true;
            }

            offset++;
        }
    }

    private void CheckResyncLimit(long garbageAhead)
    {
        var total = _pendingSkippedBytes + garbageAhead;
        if (total > _maxResyncBytes)
        {
            ThrowHelper.ThrowNoSync(total, _maxResyncBytes);
        }
    }

    private void SkipGarbage(ref SequenceReader<byte> reader, long count)
    {
        if (count == 0)
        {
            return;
        }

        CheckResyncLimit(count);
        reader.Advance(count);
        _pendingSkippedBytes += (int)count;
        _skippedBytes += count;
    }

    private TsPacketInfo ReadPacket(ref SequenceReader<byte> reader, scoped ReadOnlySpan<byte> span)
    {
        var header = TsPacketHeader.Parse(span);
        var pid = header.Pid;
        TsPacketKind kind;
        var randomAccess = false;
        var changed = false;
        long pts = -1;
        long dts = -1;

        if (pid == PatPid)
        {
            kind = TsPacketKind.Pat;
            changed = _pat.Push(span, header, this, PsiTable.Pat);
        }
        else if (pid == _pmtPid)
        {
            kind = TsPacketKind.Pmt;
            changed = _pmt.Push(span, header, this, PsiTable.Pmt);
        }
        else if (pid == NullPid)
        {
            kind = TsPacketKind.Null;
        }
        else
        {
            kind = _kinds[pid];
            if (header.PayloadUnitStart && header.PayloadOffset < PacketSize)
            {
                var payload = span[header.PayloadOffset..PacketSize];
                var esOffset = PesHeader.Parse(payload, out pts, out dts);
                if (kind == TsPacketKind.Video)
                {
                    randomAccess = header.RandomAccessIndicator
                        || (esOffset >= 0 && RandomAccessScanner.IsRandomAccess(_streamTypes[pid], payload[esOffset..]));
                }
                else if (kind == TsPacketKind.Audio)
                {
                    randomAccess = !_hasVideo;
                }
            }
        }

        var skipped = _pendingSkippedBytes;
        _pendingSkippedBytes = 0;
        var bytes = reader.Sequence.Slice(reader.Position, PacketSize);
        reader.Advance(PacketSize);

        return new TsPacketInfo
        {
            Header = header,
            Kind = kind,
            IsRandomAccess = randomAccess,
            Pts = pts,
            Dts = dts,
            ProgramChanged = changed,
            SkippedBytes = skipped,
            Bytes = bytes,
        };
    }

    /// <summary>Called by an assembler with a complete section; returns true when the program changed.</summary>
    internal bool OnSection(PsiTable table, PsiSectionAssembler assembler, ReadOnlySpan<byte> section, ReadOnlySpan<byte> packets)
    {
        // table_id, section_syntax_indicator, current_next_indicator (a "next" table is not in force yet), CRC.
        var tableId = table == PsiTable.Pat ? 0x00 : 0x02;
        if (section[0] != tableId || (section[1] & 0x80) == 0 || (section[5] & 0x01) == 0
            || Crc32Mpeg2.Compute(section) != 0 || assembler.IsSameAsAccepted(section))
        {
            return false;
        }

        var accepted = table == PsiTable.Pat ? OnPat(section, packets) : OnPmt(section, packets);
        if (accepted)
        {
            assembler.Accept(section);
        }

        return accepted;
    }

    private bool OnPat(ReadOnlySpan<byte> section, ReadOnlySpan<byte> packets)
    {
        var programs = section[8..^4];
        var programNumber = -1;
        var pmtPid = -1;
        for (; programs.Length >= 4; programs = programs[4..])
        {
            var number = BinaryPrimitives.ReadUInt16BigEndian(programs);
            var pid = BinaryPrimitives.ReadUInt16BigEndian(programs[2..]) & 0x1FFF;

            // Program 0 points at the network PID (NIT), not a PMT.
            if (number != 0 && pid != PatPid && pid != NullPid)
            {
                programNumber = number;
                pmtPid = pid;
                break;
            }
        }

        if (programNumber < 0)
        {
            return false;
        }

        if (programNumber != _programNumber || pmtPid != _pmtPid)
        {
            // Another program: what the old PMT said no longer holds.
            _pmt.Reset();
            ClearStreams();
            _program = null;
            _pmtPackets = [];
            _programNumber = programNumber;
            _pmtPid = pmtPid;
        }

        _patPackets = packets.ToArray();
        UpdateProgramPackets();
        return true;
    }

    private bool OnPmt(ReadOnlySpan<byte> section, ReadOnlySpan<byte> packets)
    {
        if (section.Length < 16 || BinaryPrimitives.ReadUInt16BigEndian(section[3..]) != _programNumber)
        {
            // A PMT of another program sharing the PID, or too short to hold the fixed fields.
            return false;
        }

        var version = (section[5] >> 1) & 0x1F;
        var pcrPid = BinaryPrimitives.ReadUInt16BigEndian(section[8..]) & 0x1FFF;
        var programInfoLength = BinaryPrimitives.ReadUInt16BigEndian(section[10..]) & 0x0FFF;
        var body = section[..^4];
        if (12 + programInfoLength > body.Length)
        {
            return false;
        }

        var loop = body[(12 + programInfoLength)..];
        var streams = new List<TsStreamInfo>();
        while (loop.Length >= 5)
        {
            var streamType = loop[0];
            var pid = BinaryPrimitives.ReadUInt16BigEndian(loop[1..]) & 0x1FFF;
            var esInfoLength = Math.Min(BinaryPrimitives.ReadUInt16BigEndian(loop[3..]) & 0x0FFF, loop.Length - 5);
            var (kind, codec) = StreamTypes.Classify(streamType, loop.Slice(5, esInfoLength));
            loop = loop[(5 + esInfoLength)..];
            if (pid == PatPid || pid == NullPid || pid == _pmtPid)
            {
                continue;
            }

            streams.Add(new TsStreamInfo(pid, streamType, kind, codec));
        }

        ClearStreams();
        var hasVideo = false;
        foreach (var stream in streams)
        {
            _kinds[stream.Pid] = stream.Kind;
            _streamTypes[stream.Pid] = stream.StreamType;
            hasVideo |= stream.Kind == TsPacketKind.Video;
        }

        _hasVideo = hasVideo;
        _program = new TsProgramInfo(_programNumber, _pmtPid, pcrPid, version, streams.ToArray());
        _pmtPackets = packets.ToArray();
        UpdateProgramPackets();
        return true;
    }

    private void ClearStreams()
    {
        if (_program is null)
        {
            return;
        }

        foreach (var stream in _program.Streams)
        {
            _kinds[stream.Pid] = TsPacketKind.Other;
            _streamTypes[stream.Pid] = 0;
        }

        _hasVideo = false;
    }

    private void UpdateProgramPackets()
    {
        if (_program is null)
        {
            _programPackets = ReadOnlyMemory<byte>.Empty;
            return;
        }

        var all = new byte[_patPackets.Length + _pmtPackets.Length];
        _patPackets.CopyTo(all, 0);
        _pmtPackets.CopyTo(all, _patPackets.Length);
        _programPackets = all;
    }
}

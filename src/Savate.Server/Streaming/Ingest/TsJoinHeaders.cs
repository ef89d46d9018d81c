using Savate.Mpegts;

namespace Savate.Server.Streaming.Ingest;

/// <summary>
/// The packets that carried the latest PAT and PMT. The feed's instance holds them as the source sent them
/// (version stamped with the mount's); each join point gets a copy numbered for its place in the stream
/// (<see cref="NumberedFor"/>), so that a listener joining there counts on without a continuity jump when
/// the source's next PAT and PMT arrive.
/// </summary>
internal sealed class TsJoinHeaders : JoinHeaders
{
    private readonly TsJoinHeaders? _configuration;

    public TsJoinHeaders(byte[] programPackets, IReadOnlyList<string> codecs)
        : this(programPackets, codecs, null)
    {
    }

    private TsJoinHeaders(byte[] programPackets, IReadOnlyList<string> codecs, TsJoinHeaders? configuration)
    {
        ProgramPackets = programPackets;
        Codecs = codecs;
        _configuration = configuration;
    }

    public byte[] ProgramPackets { get; }

    public override IReadOnlyList<string> Codecs { get; }

    public override JoinHeaders Configuration => _configuration ?? this;

    public override byte[] BuildJoin(long time) => ProgramPackets;

    public override byte[] BuildUpdate(long time) => ProgramPackets;

    /// <summary>
    /// A copy whose continuity counters end, on each PID, at the one the mount last sent there: the mount's next
    /// PAT/PMT packet (counter + 1) then continues them. A PID the mount has not sent yet is marked as sent with
    /// the copy's numbering, for the same reason.
    /// </summary>
    public TsJoinHeaders NumberedFor(TsOutputState output)
    {
        var packets = (byte[])ProgramPackets.Clone();
        const int Size = TsPacketHeader.PacketSize;
        // Walk backwards: the last packet of a PID gets the mount's counter, the ones before count down to it.
        Span<int> next = stackalloc int[8];
        Span<int> pids = stackalloc int[8];
        var known = 0;
        for (var offset = packets.Length - Size; offset >= 0; offset -= Size)
        {
            var span = packets.AsSpan(offset, Size);
            var header = TsPacketHeader.Parse(span);
            if (!header.HasPayload)
            {
                continue;
            }
            var pid = header.Pid;
            var index = pids[..known].IndexOf(pid);
            if (index < 0)
            {
                if (known == pids.Length)
                {
                    // More PIDs than a PAT and a PMT ever use: leave the copy as it came.
                    return new TsJoinHeaders((byte[])ProgramPackets.Clone(), Codecs, (TsJoinHeaders)Configuration);
                }
                index = known++;
                pids[index] = pid;
                if (!output.Seen[pid])
                {
                    output.Seen[pid] = true;
                    output.ContinuityCounters[pid] = (byte)header.ContinuityCounter;
                }
                next[index] = output.ContinuityCounters[pid];
            }
            TsRewriter.SetContinuityCounter(span, next[index]);
            next[index] = (next[index] + 15) & 0x0F;
        }
        return new TsJoinHeaders(packets, Codecs, (TsJoinHeaders)Configuration);
    }
}

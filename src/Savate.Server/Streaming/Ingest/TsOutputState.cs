namespace Savate.Server.Streaming.Ingest;

/// <summary>
/// What a mount last sent in MPEG-TS terms, kept across feeds so that a switch keeps the stream valid:
/// continuity counters per PID, PAT/PMT versions, and the last timestamps (90 kHz) per clock.
/// </summary>
internal sealed class TsOutputState
{
    public const int PidCount = 8192;

    public byte[] ContinuityCounters { get; } = new byte[PidCount];

    public bool[] Seen { get; } = new bool[PidCount];

    /// <summary>Last PES timestamp (DTS, else PTS; 90 kHz, unwrapped) sent per PID, or long.MinValue.</summary>
    public long[] LastPesByPid { get; } = CreateLastPes();

    public int PsiVersion { get; set; }

    public string? ProgramSignature { get; set; }

    private static long[] CreateLastPes()
    {
        var last = new long[PidCount];
        Array.Fill(last, long.MinValue);
        return last;
    }

    /// <summary>Last PES timestamp sent (90 kHz, unwrapped), or long.MinValue.</summary>
    public long LastPes { get; set; } = long.MinValue;

    /// <summary>Last PCR sent (90 kHz base, unwrapped), or long.MinValue.</summary>
    public long LastPcr { get; set; } = long.MinValue;
}

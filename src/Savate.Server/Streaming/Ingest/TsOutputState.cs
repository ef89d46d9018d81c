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

    /// <summary>
    /// Continues <paramref name="other"/>'s output (continuity counters, PSI version, timestamps moved
    /// <paramref name="margin90k"/> later): listeners moved from another mount keep a valid stream.
    /// </summary>
    public void CopyFrom(TsOutputState other, long margin90k)
    {
        Array.Copy(other.ContinuityCounters, ContinuityCounters, PidCount);
        Array.Copy(other.Seen, Seen, PidCount);
        for (var pid = 0; pid < PidCount; pid++)
        {
            LastPesByPid[pid] = other.LastPesByPid[pid] == long.MinValue ? long.MinValue : other.LastPesByPid[pid] + margin90k;
        }
        PsiVersion = other.PsiVersion;
        ProgramSignature = other.ProgramSignature;
        LastPes = other.LastPes == long.MinValue ? long.MinValue : other.LastPes + margin90k;
        LastPcr = other.LastPcr == long.MinValue ? long.MinValue : other.LastPcr + margin90k;
    }
}

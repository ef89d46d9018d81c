namespace Savate.Mpegts;

/// <summary>One elementary stream of the program.</summary>
public sealed record TsStreamInfo(int Pid, byte StreamType, TsPacketKind Kind, string Codec);

/// <summary>The (first) program as described by the latest PAT and PMT.</summary>
public sealed record TsProgramInfo(int ProgramNumber, int PmtPid, int PcrPid, int Version, IReadOnlyList<TsStreamInfo> Streams)
{
    public bool HasVideo => Streams.Any(s => s.Kind == TsPacketKind.Video);
}

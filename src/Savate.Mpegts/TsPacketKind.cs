namespace Savate.Mpegts;

/// <summary>What a packet carries, from the PAT/PMT seen so far.</summary>
public enum TsPacketKind
{
    /// <summary>PID not (yet) described by the PMT.</summary>
    Other,
    Pat,
    Pmt,
    Video,
    Audio,
    /// <summary>Other elementary streams listed in the PMT (private data, subtitles...).</summary>
    Data,
    Null,
}

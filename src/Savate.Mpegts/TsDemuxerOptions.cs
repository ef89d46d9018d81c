namespace Savate.Mpegts;

public sealed record TsDemuxerOptions
{
    /// <summary>How many packets in a row must show 0x47 at the stride to accept a sync point.</summary>
    public int SyncConfirmPackets { get; init; } = 3;

    /// <summary>Garbage tolerated while searching for sync before <see cref="TsError.NoSync"/>.</summary>
    public int MaxResyncBytes { get; init; } = 64 * 1024;
}

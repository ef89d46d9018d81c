namespace Savate.Mpegts;

public enum TsError
{
    /// <summary>No 0x47 sync at a 188-byte stride within <see cref="TsDemuxerOptions.MaxResyncBytes"/>.</summary>
    NoSync,
}

public sealed class TsFormatException(TsError reason, string message) : Exception(message)
{
    public TsError Reason { get; } = reason;
}

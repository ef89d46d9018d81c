namespace Savate.Server.Streaming;

/// <summary>
/// What a listener needs before its first media byte: the FLV header, metadata and latest sequence
/// headers, or the PAT and PMT. Immutable; a change makes a new instance, so reference equality
/// tells a listener whether the configuration changed under it.
/// </summary>
internal abstract class JoinHeaders
{
    /// <summary>Bytes for a new listener: container header (FLV) and codec configuration, stamped at <paramref name="time"/>.</summary>
    public abstract byte[] BuildJoin(long time);

    /// <summary>Bytes for a listener that already has a container header and skipped to a point with other configuration.</summary>
    public abstract byte[] BuildUpdate(long time);

    /// <summary>
    /// The configuration these headers carry. Copies made for one join point (TS headers numbered for their
    /// place in the stream) share it, so that reference equality of this tells a configuration change.
    /// </summary>
    public virtual JoinHeaders Configuration => this;

    /// <summary>Codec names, for status.</summary>
    public abstract IReadOnlyList<string> Codecs { get; }
}

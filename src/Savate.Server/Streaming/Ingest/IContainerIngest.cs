using System.Buffers;

namespace Savate.Server.Streaming.Ingest;

/// <summary>
/// Turns one source's bytes into slices on its mount. One instance per source session; it keeps the
/// parser state between reads (the PipeReader keeps the unconsumed bytes).
/// </summary>
internal interface IContainerIngest
{
    /// <summary>
    /// Parses every complete unit in <paramref name="buffer"/>, publishing slices to the mount, and
    /// returns how far it consumed. Throws the container's format exception on garbage it cannot skip.
    /// </summary>
    SequencePosition Process(in ReadOnlySequence<byte> buffer);

    /// <summary>Publishes what is pending (end of a read batch).</summary>
    void Flush();

    /// <summary>The source is gone: drop partial state.</summary>
    void Abandon();
}

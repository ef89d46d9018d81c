using System.Buffers;
using Savate.Server.Http;

namespace Savate.Fuzz.Targets;

/// <summary>
/// The request-head parser of the raw front door (<see cref="RawRequestHead"/>) on arbitrary bytes: nothing
/// may escape, the head read whole or in segments gives the same answer, and a parsed head ends inside the
/// buffer. A thin call of the parser's entry point (<see cref="Parse"/>), so that it follows the parser's rewrites.
/// </summary>
internal static class RequestHeadTarget
{
    public static void Run(byte[] input)
    {
        var whole = Parse(new ReadOnlySequence<byte>(input));
        var split = Parse(Segments.Split(input, Segments.SplitSize(input)));
        if (whole != split)
        {
            throw new FuzzInvariantException($"request head: whole input gives {whole}, split input gives {split}");
        }
    }

    /// <summary>What the parser says about a buffer, as text to compare; the parser's one entry point.</summary>
    private static string Parse(ReadOnlySequence<byte> buffer)
    {
        RawRequestHead? head;
        SequencePosition end;
        try
        {
            if (!RawRequestHead.TryParse(buffer, out head, out end))
            {
                return "Incomplete";
            }
        }
        catch (BadRequestHeadException e)
        {
            return $"Refused {e.Reason} {e.StatusCode}";
        }
        var consumed = buffer.Slice(0, end).Length;
        if (consumed <= 0 || consumed > buffer.Length)
        {
            throw new FuzzInvariantException($"request head: ends at {consumed} in a buffer of {buffer.Length}");
        }
        return $"Parsed {consumed} {head.Method} {head.Path} {head.Version} raw={head.IsRawSource} listener={head.IsListener} "
            + $"head={head.IsHead} {head.ResponseVersion} auth={head.Authorization} type={head.ContentType} ua={head.UserAgent} "
            + $"continue={head.ExpectsContinue} length={head.ContentLength} chunked={head.IsChunked} badlength={head.HasBadLength}";
    }
}

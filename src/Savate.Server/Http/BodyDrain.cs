using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;

namespace Savate.Server.Http;

/// <summary>
/// After a refusal: what the client still sends is read and dropped for a moment before the close. Closing with
/// unread bytes resets the connection, and a reset can take the answer with it (curl must see its 401).
/// </summary>
internal static class BodyDrain
{
    // How long, and how much, of a refused source's body is read and dropped before its connection is closed.
    private static readonly TimeSpan s_refusedTime = TimeSpan.FromMilliseconds(500);
    private const long RefusedBytes = 256 * 1024;

    /// <summary>After a source's refusal (either transport): reads and drops its body for at most 500 ms and 256 KiB; true when it ended.</summary>
    public static ValueTask<bool> DrainRefusedAsync(PipeReader body, CancellationToken aborted) => DrainAsync(body, s_refusedTime, RefusedBytes, aborted);

    /// <summary>Reads and drops for at most <paramref name="time"/> and <paramref name="bytes"/>; true when the body or connection ended.</summary>
    public static async ValueTask<bool> DrainAsync(PipeReader body, TimeSpan time, long bytes, CancellationToken aborted)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        timeout.CancelAfter(time);
        long drained = 0;
        try
        {
            while (drained < bytes)
            {
                var result = await body.ReadAsync(timeout.Token).ConfigureAwait(false);
                drained += result.Buffer.Length;
                body.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    return true;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ConnectionAbortedException or IOException or InvalidOperationException)
        {
            // Timed out, reset, or a body that cannot be read (bad framing): the close will do.
        }
        return false;
    }
}

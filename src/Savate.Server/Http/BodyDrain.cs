using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;

namespace Savate.Server.Http;

/// <summary>
/// After a refusal: what the client still sends is read and dropped for a moment before the close. Closing with
/// unread bytes resets the connection, and a reset can take the answer with it (curl must see its 401).
/// </summary>
internal static class BodyDrain
{
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

using System.Collections.Concurrent;

namespace Savate.Server.Auth;

/// <summary>
/// The users files of the config, loaded once and shared by every mount naming them. A file is looked at again
/// (its size and write time) at most every <see cref="RecheckAfter"/>, so an edit applies without a reload; an edit
/// that does not parse keeps the last good contents (and is logged by the caller), a file that disappears too.
/// </summary>
internal sealed class UserFileCache(TimeProvider time)
{
    public static readonly TimeSpan RecheckAfter = TimeSpan.FromSeconds(2);

    private readonly ConcurrentDictionary<string, Entry> _files = new(StringComparer.Ordinal);

    /// <summary>The file at <paramref name="path"/>; null when it never loaded (then <paramref name="error"/> says why).</summary>
    public UserFile? Get(string path, out string? error)
    {
        error = null;
        var now = time.GetTimestamp();
        if (_files.TryGetValue(path, out var entry) && time.GetElapsedTime(entry.CheckedAt, now) < RecheckAfter)
        {
            return entry.File;
        }
        lock (_files)
        {
            if (_files.TryGetValue(path, out entry) && time.GetElapsedTime(entry.CheckedAt, now) < RecheckAfter)
            {
                return entry.File;
            }
            try
            {
                var info = new FileInfo(path);
                if (entry is not null && info.Exists && info.Length == entry.Length && info.LastWriteTimeUtc == entry.WrittenAt)
                {
                    _files[path] = entry with { CheckedAt = now };
                    return entry.File;
                }
                var file = UserFile.Load(path, time);
                _files[path] = new Entry(file, info.Length, info.LastWriteTimeUtc, now);
                return file;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
            {
                error = e.Message.ReplaceLineEndings("; ");
                if (entry is not null)
                {
                    // Keep the last good contents; look again after the same delay.
                    _files[path] = entry with { CheckedAt = now };
                    return entry.File;
                }
                return null;
            }
        }
    }

    private sealed record Entry(UserFile? File, long Length, DateTime WrittenAt, long CheckedAt);
}

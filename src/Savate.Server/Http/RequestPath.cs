using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Savate.Server.Http;

/// <summary>
/// The one normalisation of a request path, used for every purpose: mount lookup, source admission (and so
/// dynamic mount creation), the server's own paths (/status.json, /admin/..., /metrics). A path has one
/// spelling: <c>//</c> collapses to <c>/</c>; dot segments, <c>;</c> parameters, encoded slashes and
/// backslashes are refused (400) instead of being resolved, so no two spellings reach the same name through
/// different code. Case is kept: paths are case-sensitive, as URL paths are.
/// </summary>
internal static class RequestPath
{
    /// <summary>
    /// The path of a request target (origin form <c>/a/b?q</c>, or absolute form <c>http://host/a/b</c>), percent-decoded
    /// and normalised; false with the reason when the target cannot name a resource here.
    /// </summary>
    public static bool TryNormalize(string target, [NotNullWhen(true)] out string? path, [NotNullWhen(false)] out string? error)
    {
        path = null;
        error = null;
        var raw = target.AsSpan();
        if (raw.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || raw.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            var authority = raw[(raw.IndexOf("://", StringComparison.Ordinal) + 3)..];
            var slash = authority.IndexOfAny('/', '?', '#');
            raw = slash < 0 ? "/" : authority[slash] == '/' ? authority[slash..] : "/";
        }
        var end = raw.IndexOfAny('?', '#');
        if (end >= 0)
        {
            raw = raw[..end];
        }
        if (raw.Length == 0 || raw[0] != '/')
        {
            error = "the path must start with '/'";
            return false;
        }
        if (raw.Contains(';'))
        {
            error = "path parameters (';') are not allowed";
            return false;
        }

        // Percent-decode into bytes (the path is UTF-8), refusing what would change the path's structure.
        var bytes = new byte[raw.Length];
        var length = 0;
        for (var i = 0; i < raw.Length; i++)
        {
            var c = raw[i];
            if (c == '%')
            {
                if (i + 2 >= raw.Length || !IsHex(raw[i + 1]) || !IsHex(raw[i + 2]))
                {
                    error = "a '%' not followed by two hex digits";
                    return false;
                }
                var decoded = (byte)((Hex(raw[i + 1]) << 4) | Hex(raw[i + 2]));
                i += 2;
                if (decoded is (byte)'/' or (byte)'\\')
                {
                    error = "encoded slashes (%2F, %5C) are not allowed";
                    return false;
                }
                if (decoded < 0x20 || decoded == 0x7F)
                {
                    error = "encoded control characters are not allowed";
                    return false;
                }
                bytes[length++] = decoded;
            }
            else if (c == '\\')
            {
                error = "backslashes are not allowed";
                return false;
            }
            else if (c <= ' ' || c >= 0x7F)
            {
                error = "the path holds a character that is not visible ASCII";
                return false;
            }
            else if (c == '/' && length > 0 && bytes[length - 1] == '/')
            {
                // '//' collapses.
            }
            else
            {
                bytes[length++] = (byte)c;
            }
        }

        string decodedPath;
        try
        {
            decodedPath = s_utf8.GetString(bytes, 0, length);
        }
        catch (DecoderFallbackException)
        {
            error = "the path is not UTF-8";
            return false;
        }
        foreach (var segment in decodedPath.Split('/'))
        {
            if (segment is "." or "..")
            {
                error = "dot segments ('.', '..') are not allowed";
                return false;
            }
        }
        path = decodedPath;
        return true;
    }

    private static readonly UTF8Encoding s_utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static bool IsHex(char c) => char.IsAsciiHexDigit(c);

    private static int Hex(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/// <summary>
/// What may be a mount, and the server's own paths that may not: pure rules, shared by the config validator
/// (which is compiled on its own by the config tests) and by routing (<c>MountPaths</c>).
/// </summary>
internal static class MountPathRules
{
    /// <summary>The server's own paths (the admin API lives under /admin/).</summary>
    public static readonly string[] Reserved = ["/status.json", "/status", "/admin", "/metrics"];

    /// <summary>
    /// True for the server's own paths and anything under /admin/, in any case: routing is case-sensitive, but
    /// no mount may look like a server path (a /STATUS.JSON mount would pass for the server's status).
    /// </summary>
    public static bool IsReserved(string path)
    {
        foreach (var reserved in Reserved)
        {
            if (path.Equals(reserved, StringComparison.OrdinalIgnoreCase)
                || path.StartsWith(reserved + "/", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Why <paramref name="path"/> cannot name a mount (declared or dynamic), or null when it can.</summary>
    public static string? CheckMountPath(string path)
    {
        if (!path.StartsWith('/'))
        {
            return $"\"{path}\" must start with '/' (e.g. /live.flv)";
        }
        if (path.Length == 1)
        {
            return "\"/\" needs a name after the '/' (e.g. /live.flv)";
        }
        if (path.Any(c => char.IsWhiteSpace(c) || c is '?' or '#'))
        {
            return $"\"{path}\" must not contain whitespace, '?' or '#'";
        }
        if (path.Any(c => c <= ' ' || c >= 0x7F || c is '?' or '#' or '%' or ';' or '\\'))
        {
            return $"\"{path}\" must be visible ASCII without '?', '#', '%', ';' or '\\'";
        }
        if (path.EndsWith('/'))
        {
            return $"\"{path}\" must not end with '/'";
        }
        if (!RequestPath.TryNormalize(path, out var normalized, out var error))
        {
            return $"\"{path}\": {error}";
        }
        if (normalized != path)
        {
            return $"\"{path}\" is not in its normal form (write {normalized})";
        }
        if (IsReserved(path))
        {
            return $"\"{path}\" is reserved by the server ({string.Join(", ", Reserved)} and /admin/...); choose another path";
        }
        return null;
    }
}

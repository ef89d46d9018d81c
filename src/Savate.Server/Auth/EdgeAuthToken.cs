using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Savate.Server.Auth;

/// <summary>Why a signed-URL token was refused (or that it was not).</summary>
public enum TokenVerdict
{
    /// <summary>The token is genuine, in its time window, and its ACL covers the path.</summary>
    Valid,

    /// <summary>No token was presented.</summary>
    Missing,

    /// <summary>Not a token: no <c>exp</c>, no <c>hmac</c>, a field that is not <c>name=value</c>, or a number that is not one.</summary>
    Malformed,

    /// <summary>The HMAC does not match: the token was altered, or signed with another key.</summary>
    Tampered,

    /// <summary><c>exp</c> is in the past.</summary>
    Expired,

    /// <summary><c>st</c> is in the future.</summary>
    NotYetValid,

    /// <summary>Genuine and current, but its ACL does not cover the path asked for.</summary>
    WrongAcl,
}

/// <summary>
/// Akamai EdgeAuth tokens (as the EdgeAuth-Token generators produce them, so existing tooling works):
/// <c>[ip=..~]st=&lt;unix&gt;~exp=&lt;unix&gt;~acl=&lt;pattern&gt;[!&lt;pattern&gt;...][~id=..][~data=..]~hmac=&lt;hex&gt;</c>,
/// where the HMAC is HMAC-SHA256 keyed with the hex-decoded key over everything before <c>~hmac=</c>.
/// ACL patterns match the request path with <c>*</c> as "any characters" (so <c>/live.flv*</c> covers the
/// mount and, later, its HLS playlist and segments). The HMAC is compared in constant time, and the HMAC
/// is checked before anything the token claims is believed.
/// </summary>
public static class EdgeAuthToken
{
    /// <summary>The longest token accepted; a longer one is malformed before any work is done on it.</summary>
    public const int MaxLength = 4096;

    private const string HmacField = "~hmac=";

    /// <summary>Checks <paramref name="token"/> for <paramref name="path"/> at <paramref name="now"/>.</summary>
    /// <param name="token">The token as presented (already URL-decoded), or null.</param>
    /// <param name="key">The HMAC key (hex-decoded).</param>
    /// <param name="path">The normalised request path.</param>
    /// <param name="now">The current time.</param>
    public static TokenVerdict Verify(string? token, ReadOnlySpan<byte> key, string path, DateTimeOffset now)
    {
        if (string.IsNullOrEmpty(token))
        {
            return TokenVerdict.Missing;
        }
        if (token.Length > MaxLength)
        {
            return TokenVerdict.Malformed;
        }

        var hmacAt = token.LastIndexOf(HmacField, StringComparison.Ordinal);
        if (hmacAt <= 0)
        {
            return TokenVerdict.Malformed;
        }
        var signed = token.AsSpan(0, hmacAt);
        var hmacHex = token.AsSpan(hmacAt + HmacField.Length);
        Span<byte> presented = stackalloc byte[HMACSHA256.HashSizeInBytes];
        if (hmacHex.Length != HMACSHA256.HashSizeInBytes * 2 || Convert.FromHexString(hmacHex, presented, out _, out var written) != System.Buffers.OperationStatus.Done || written != presented.Length)
        {
            return TokenVerdict.Malformed;
        }

        Span<byte> expected = stackalloc byte[HMACSHA256.HashSizeInBytes];
        var signedBytes = Encoding.UTF8.GetBytes(signed.ToString());
        HMACSHA256.HashData(key, signedBytes, expected);
        if (!CryptographicOperations.FixedTimeEquals(expected, presented))
        {
            return TokenVerdict.Tampered;
        }

        long? start = null;
        long? expiry = null;
        string? acl = null;
        foreach (var range in signed.Split('~'))
        {
            var field = signed[range];
            var eq = field.IndexOf('=');
            if (eq <= 0)
            {
                return TokenVerdict.Malformed;
            }
            var name = field[..eq];
            var value = field[(eq + 1)..];
            if (name.SequenceEqual("st"))
            {
                if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var st))
                {
                    return TokenVerdict.Malformed;
                }
                start = st;
            }
            else if (name.SequenceEqual("exp"))
            {
                if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var exp))
                {
                    return TokenVerdict.Malformed;
                }
                expiry = exp;
            }
            else if (name.SequenceEqual("acl"))
            {
                acl = value.ToString();
            }
        }

        if (expiry is null)
        {
            return TokenVerdict.Malformed;
        }
        var unixNow = now.ToUnixTimeSeconds();
        if (start is { } s && unixNow < s)
        {
            return TokenVerdict.NotYetValid;
        }
        if (unixNow >= expiry)
        {
            return TokenVerdict.Expired;
        }
        if (acl is null || !AclCovers(acl, path))
        {
            return TokenVerdict.WrongAcl;
        }
        return TokenVerdict.Valid;
    }

    /// <summary>Makes a token as the EdgeAuth generators do (for <c>savate token</c> and tests).</summary>
    /// <param name="key">The HMAC key (hex-decoded).</param>
    /// <param name="acl">One or more path patterns, separated by <c>!</c>.</param>
    /// <param name="start">The start of validity, or null for none (no <c>st</c> field).</param>
    /// <param name="expiry">The end of validity.</param>
    public static string Create(ReadOnlySpan<byte> key, string acl, DateTimeOffset? start, DateTimeOffset expiry)
    {
        var builder = new StringBuilder();
        if (start is { } st)
        {
            builder.Append(CultureInfo.InvariantCulture, $"st={st.ToUnixTimeSeconds()}~");
        }
        builder.Append(CultureInfo.InvariantCulture, $"exp={expiry.ToUnixTimeSeconds()}~acl={acl}");
        var signed = builder.ToString();
        var hmac = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(signed));
        return signed + HmacField + Convert.ToHexStringLower(hmac);
    }

    /// <summary>True when one of the <c>!</c>-separated patterns of <paramref name="acl"/> matches <paramref name="path"/>.</summary>
    public static bool AclCovers(string acl, string path)
    {
        foreach (var range in acl.AsSpan().Split('!'))
        {
            if (Glob(acl.AsSpan()[range], path))
            {
                return true;
            }
        }
        return false;
    }

    // '*' matches any run of characters, '/' included (as EdgeAuth's ACLs do); everything else literally.
    // Iterative with one back-track point: linear in practice, never exponential.
    private static bool Glob(ReadOnlySpan<char> pattern, ReadOnlySpan<char> text)
    {
        int p = 0, t = 0, star = -1, mark = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = t;
            }
            else if (p < pattern.Length && pattern[p] == text[t])
            {
                p++;
                t++;
            }
            else if (star >= 0)
            {
                p = star + 1;
                t = ++mark;
            }
            else
            {
                return false;
            }
        }
        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }
        return p == pattern.Length;
    }
}

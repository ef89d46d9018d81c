using System.Security.Cryptography;
using System.Text;

namespace Savate.Server.Http;

/// <summary>HTTP Basic credentials, compared in constant time.</summary>
internal static class BasicAuth
{
    public const string Challenge = "Basic realm=\"Savate\", charset=\"UTF-8\"";

    public static bool TryParse(string? authorization, out string user, out string password)
    {
        user = password = string.Empty;
        if (authorization is null || !authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        Span<byte> decoded = stackalloc byte[512];
        var encoded = authorization.AsSpan(6).Trim();
        if (!Convert.TryFromBase64Chars(encoded, decoded, out var length))
        {
            return false;
        }
        var text = Encoding.UTF8.GetString(decoded[..length]);
        var colon = text.IndexOf(':');
        if (colon < 0)
        {
            return false;
        }
        user = text[..colon];
        password = text[(colon + 1)..];
        return true;
    }

    /// <summary>True when <paramref name="authorization"/> carries <paramref name="expectedUser"/> and <paramref name="expectedPassword"/>.</summary>
    public static bool Matches(string? authorization, string expectedUser, string expectedPassword)
    {
        if (!TryParse(authorization, out var user, out var password))
        {
            return false;
        }
        var userOk = FixedTimeEquals(user, expectedUser);
        var passwordOk = FixedTimeEquals(password, expectedPassword);
        return userOk & passwordOk;
    }

    private static bool FixedTimeEquals(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(a), Encoding.UTF8.GetBytes(b));
}

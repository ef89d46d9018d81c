using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace Savate.Server.Auth;

/// <summary>
/// An Apache htpasswd file of bcrypt hashes (<c>htpasswd -B</c>): <c>user:$2y$cost$...</c> per line,
/// <c>#</c> comments and blank lines ignored. Only bcrypt is accepted: MD5-crypt, SHA-1 and plain
/// entries are refused when the file is loaded, naming the line, because they are not safe to keep.
/// Checks cost a bcrypt each, so a right answer is remembered for a minute (keyed by a SHA-256 of the
/// password, never the password), in a bounded table.
/// </summary>
public sealed class UserFile
{
    private const int MaxRemembered = 10_000;
    private static readonly TimeSpan RememberFor = TimeSpan.FromMinutes(1);

    // Checked when the user is unknown, so an unknown user costs what a wrong password costs.
    private static readonly string DummyHash = BCrypt.Net.BCrypt.HashPassword("savate-dummy", 5);

    private readonly Dictionary<string, string> _hashes;
    private readonly ConcurrentDictionary<string, long> _remembered = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;

    private UserFile(Dictionary<string, string> hashes, TimeProvider time)
    {
        _hashes = hashes;
        _time = time;
    }

    /// <summary>The users in the file.</summary>
    public IReadOnlyCollection<string> Users => _hashes.Keys;

    /// <summary>Reads <paramref name="path"/>; every bad line is an error naming its number.</summary>
    /// <exception cref="FormatException">The file has bad lines; the message lists each.</exception>
    public static UserFile Load(string path, TimeProvider? time = null) => Parse(File.ReadAllText(path), path, time);

    /// <summary>Parses htpasswd text (<paramref name="source"/> names it in errors).</summary>
    /// <exception cref="FormatException">The text has bad lines; the message lists each.</exception>
    public static UserFile Parse(string text, string source, TimeProvider? time = null)
    {
        var hashes = new Dictionary<string, string>(StringComparer.Ordinal);
        var errors = new List<string>();
        var number = 0;
        foreach (var raw in text.Split('\n'))
        {
            number++;
            var line = raw.TrimEnd('\r').Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                errors.Add($"{source}:{number}: not 'user:hash'");
                continue;
            }
            var user = line[..colon];
            var hash = line[(colon + 1)..];
            if (!IsBcrypt(hash))
            {
                errors.Add($"{source}:{number}: user '{user}' has no bcrypt hash; only bcrypt is accepted (make it with: htpasswd -B {source} {user})");
                continue;
            }
            if (!hashes.TryAdd(user, hash))
            {
                errors.Add($"{source}:{number}: user '{user}' appears twice");
            }
        }
        if (errors.Count > 0)
        {
            throw new FormatException(string.Join(Environment.NewLine, errors));
        }
        return new UserFile(hashes, time ?? TimeProvider.System);
    }

    /// <summary>True when <paramref name="user"/> is in the file and <paramref name="password"/> is theirs.</summary>
    public bool Verify(string user, string password)
    {
        var known = _hashes.TryGetValue(user, out var hash);
        var rememberKey = RememberKey(user, password);
        var now = _time.GetTimestamp();
        if (known && _remembered.TryGetValue(rememberKey, out var at) && _time.GetElapsedTime(at, now) < RememberFor)
        {
            return true;
        }

        bool ok;
        try
        {
            ok = BCrypt.Net.BCrypt.Verify(password, known ? hash : DummyHash) && known;
        }
        catch (BCrypt.Net.SaltParseException)
        {
            ok = false;
        }
        if (ok)
        {
            if (_remembered.Count >= MaxRemembered)
            {
                _remembered.Clear();
            }
            _remembered[rememberKey] = now;
        }
        return ok;
    }

    private static bool IsBcrypt(string hash) =>
        hash.Length == 60 && hash[0] == '$' && hash[1] == '2' && hash[2] is 'a' or 'b' or 'y' && hash[3] == '$';

    private static string RememberKey(string user, string password)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(user + "\0" + password), digest);
        return Convert.ToHexString(digest);
    }
}

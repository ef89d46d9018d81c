using Savate.Server.Configuration;

namespace Savate.Server.Auth;

/// <summary>
/// <c>savate token --key HEX --acl PATTERN [--ttl 1h] [--start-now]</c>: prints an EdgeAuth token that a
/// mount with that <c>token-key</c> accepts, to put in <c>?hdnts=</c> (or a cookie of that name).
/// </summary>
public static class TokenCommand
{
    private const string Usage = "usage: savate token --key HEX --acl PATTERN[!PATTERN...] [--ttl DURATION (default 1h)] [--start-now]";

    /// <summary>Runs the command; returns the process exit code (0, or 2 on a usage error).</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error, TimeProvider? time = null)
    {
        string? keyHex = null;
        string? acl = null;
        var ttl = TimeSpan.FromHours(1);
        var startNow = false;
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            string? Next() => i + 1 < args.Count ? args[++i] : null;
            switch (arg)
            {
                case "--key":
                    keyHex = Next();
                    break;
                case "--acl":
                    acl = Next();
                    break;
                case "--ttl":
                    var text = Next();
                    try
                    {
                        ttl = ConfigLoader.ParseDuration(text ?? "");
                    }
                    catch (FormatException e)
                    {
                        error.WriteLine($"savate token: --ttl: {e.Message}");
                        return 2;
                    }
                    break;
                case "--start-now":
                    startNow = true;
                    break;
                default:
                    error.WriteLine($"savate token: unknown argument '{arg}'");
                    error.WriteLine(Usage);
                    return 2;
            }
        }

        if (keyHex is null || acl is null || ttl <= TimeSpan.Zero)
        {
            error.WriteLine("savate token: --key and --acl are required, and --ttl must be positive");
            error.WriteLine(Usage);
            return 2;
        }
        byte[] key;
        try
        {
            key = Convert.FromHexString(keyHex);
        }
        catch (FormatException)
        {
            error.WriteLine("savate token: --key must be hex (an even number of 0-9a-f digits)");
            return 2;
        }
        if (key.Length == 0)
        {
            error.WriteLine("savate token: --key is empty");
            return 2;
        }

        var now = (time ?? TimeProvider.System).GetUtcNow();
        output.WriteLine(EdgeAuthToken.Create(key, acl, startNow ? now : null, now + ttl));
        return 0;
    }
}

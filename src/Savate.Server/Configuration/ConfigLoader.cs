using System.Globalization;

namespace Savate.Server.Configuration;

/// <summary>Loads <c>savate.yaml</c> into a validated <see cref="SavateConfig"/>, reporting every error at once.</summary>
public static class ConfigLoader
{
    /// <summary>Reads and validates the config file; relative paths in it are resolved against its directory.</summary>
    /// <exception cref="ConfigException">The file is missing or unreadable, or the config is invalid.</exception>
    public static SavateConfig Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var fullPath = System.IO.Path.GetFullPath(path);
        string yaml;
        try
        {
            yaml = File.ReadAllText(fullPath);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ConfigException([$"{path}: config file not found (looked for {fullPath})"]);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException([$"{path}: config file cannot be read: {ex.Message}"]);
        }

        return Parse(yaml, System.IO.Path.GetDirectoryName(fullPath) ?? ".");
    }

    /// <summary>Parses and validates config text; relative paths are resolved against <paramref name="baseDirectory"/>.</summary>
    /// <exception cref="ConfigException">The config is invalid; carries every error found.</exception>
    public static SavateConfig Parse(string yaml, string baseDirectory)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        ArgumentNullException.ThrowIfNull(baseDirectory);

        var errors = new List<string>();
        var reader = new ConfigReader(System.IO.Path.GetFullPath(baseDirectory), errors);
        var result = reader.Read(yaml);
        if (result is not null)
        {
            ConfigValidator.Validate(result.Config, result.ExplicitMountKeys, errors);
        }

        if (errors.Count > 0 || result is null)
        {
            throw new ConfigException(errors);
        }

        return result.Config;
    }

    /// <summary>
    /// Parses a duration: a number and a unit (<c>ms</c>, <c>s</c>, <c>m</c>, <c>h</c>), possibly fractional and
    /// combined (<c>500ms</c>, <c>5s</c>, <c>1.5s</c>, <c>2m</c>, <c>1h30m</c>), or a bare <c>0</c>. A leading <c>-</c> is
    /// accepted so that the validator can say a value must not be negative.
    /// </summary>
    /// <exception cref="FormatException">The text is not a duration.</exception>
    public static TimeSpan ParseDuration(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var s = text.Trim();
        var negative = s.StartsWith('-');
        if (negative || s.StartsWith('+'))
        {
            s = s[1..];
        }

        if (s.Length == 0)
        {
            throw new FormatException($"'{text}' is not a duration: it is empty.");
        }

        if (s == "0")
        {
            return TimeSpan.Zero;
        }

        decimal ticks = 0;
        var i = 0;
        while (i < s.Length)
        {
            var numberStart = i;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.'))
            {
                i++;
            }

            if (!decimal.TryParse(s.AsSpan(numberStart, i - numberStart), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            {
                throw new FormatException($"'{text}' is not a duration: expected a number at position {numberStart}.");
            }

            if (number > TimeSpan.MaxValue.Ticks)
            {
                throw new FormatException($"'{text}' is not a duration: it is too long.");
            }

            var unitStart = i;
            while (i < s.Length && char.IsAsciiLetter(s[i]))
            {
                i++;
            }

            var unitTicks = s[unitStart..i] switch
            {
                "ms" => TimeSpan.TicksPerMillisecond,
                "s" => TimeSpan.TicksPerSecond,
                "m" => TimeSpan.TicksPerMinute,
                "h" => TimeSpan.TicksPerHour,
                "" => throw new FormatException($"'{text}' is not a duration: '{s[numberStart..i]}' needs a unit (ms, s, m or h)."),
                var unit => throw new FormatException($"'{text}' is not a duration: unknown unit '{unit}' (use ms, s, m or h)."),
            };

            ticks += number * unitTicks;
            if (ticks > TimeSpan.MaxValue.Ticks)
            {
                throw new FormatException($"'{text}' is not a duration: it is too long.");
            }
        }

        var result = TimeSpan.FromTicks((long)ticks);
        return negative ? result.Negate() : result;
    }

    /// <summary>
    /// Parses a byte size: a number with an optional unit. Binary: <c>k</c>, <c>K</c>, <c>Ki</c>, <c>KiB</c> = 1024;
    /// <c>m</c>, <c>M</c>, <c>Mi</c>, <c>MiB</c> = 1024²; <c>g</c>, <c>G</c>, <c>Gi</c>, <c>GiB</c> = 1024³. Decimal:
    /// <c>kB</c>, <c>KB</c> = 1000; <c>MB</c> = 10⁶; <c>GB</c> = 10⁹. <c>B</c> or no unit = bytes. Fractions are allowed
    /// when the result is a whole number of bytes (<c>1.5KiB</c>).
    /// </summary>
    /// <exception cref="FormatException">The text is not a size.</exception>
    public static long ParseSize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var s = text.Trim();
        var i = 0;
        while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.'))
        {
            i++;
        }

        if (!decimal.TryParse(s.AsSpan(0, i), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
        {
            throw new FormatException($"'{text}' is not a size: expected a non-negative number, then an optional unit.");
        }

        if (number > long.MaxValue)
        {
            throw new FormatException($"'{text}' is not a size: it is too large.");
        }

        long multiplier = s[i..].TrimStart() switch
        {
            "" or "B" => 1,
            "k" or "K" or "Ki" or "KiB" => 1024,
            "m" or "M" or "Mi" or "MiB" => 1024 * 1024,
            "g" or "G" or "Gi" or "GiB" => 1024 * 1024 * 1024,
            "kB" or "KB" => 1000,
            "MB" => 1000 * 1000,
            "GB" => 1000 * 1000 * 1000,
            var unit => throw new FormatException($"'{text}' is not a size: unknown unit '{unit}' (use KiB, MiB, GiB, kB, MB or GB)."),
        };

        var bytes = number * multiplier;
        if (bytes != decimal.Truncate(bytes))
        {
            throw new FormatException($"'{text}' is not a size: it is not a whole number of bytes.");
        }

        if (bytes > long.MaxValue)
        {
            throw new FormatException($"'{text}' is not a size: it is too large.");
        }

        return (long)bytes;
    }
}

namespace Savate.Server.Configuration;

/// <summary>The configuration could not be loaded; <see cref="Errors"/> holds every problem found, one per entry.</summary>
public sealed class ConfigException(IReadOnlyList<string> errors) : Exception(FormatMessage(errors))
{
    /// <summary>Every error, each naming where it is (section, mount, key) and what to do.</summary>
    public IReadOnlyList<string> Errors { get; } = errors;

    private static string FormatMessage(IReadOnlyList<string> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        var header = errors.Count == 1 ? "Invalid configuration (1 error):" : $"Invalid configuration ({errors.Count} errors):";
        return header + Environment.NewLine + string.Join(Environment.NewLine, errors);
    }
}

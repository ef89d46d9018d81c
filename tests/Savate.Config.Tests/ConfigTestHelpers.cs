namespace Savate.Server.Configuration.Tests;

internal static class ConfigTestHelpers
{
    /// <summary>Parses <paramref name="yaml"/> expecting failure; returns every error.</summary>
    public static IReadOnlyList<string> Errors(string yaml, string? baseDirectory = null)
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml, baseDirectory ?? Path.GetTempPath()));
        Assert.NotEmpty(ex.Errors);
        return ex.Errors;
    }

    /// <summary>Asserts that parsing fails with exactly one error, and returns it.</summary>
    public static string SingleError(string yaml, string? baseDirectory = null)
    {
        var errors = Errors(yaml, baseDirectory);
        return Assert.Single(errors);
    }
}

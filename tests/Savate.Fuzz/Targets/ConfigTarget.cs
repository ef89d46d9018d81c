using System.Text;
using Savate.Server.Configuration;

namespace Savate.Fuzz.Targets;

/// <summary>
/// <see cref="ConfigLoader.Parse"/> on arbitrary text: a config is either accepted or refused with a
/// <see cref="ConfigException"/> that lists at least one error; nothing else may escape.
/// </summary>
internal static class ConfigTarget
{
    // Relative fallback files resolve here: a directory with nothing in it, so no input reads a real file.
    private static readonly string s_baseDirectory = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "savate-fuzz-config")).FullName;

    public static void Run(byte[] input)
    {
        var yaml = Encoding.UTF8.GetString(input);
        try
        {
            ConfigLoader.Parse(yaml, s_baseDirectory);
        }
        catch (ConfigException e) when (e.Errors.Count > 0)
        {
            // Refused, with reasons: the contract.
        }
    }
}

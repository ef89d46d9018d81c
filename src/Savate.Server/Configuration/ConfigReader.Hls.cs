using YamlDotNet.RepresentationModel;

namespace Savate.Server.Configuration;

/// <summary>The <c>hls</c> block of a mount, kept apart from the rest of the reader.</summary>
internal sealed partial class ConfigReader
{
    private static readonly string[] s_hlsKeys = ["enabled", "segment-duration", "window", "idle-timeout", "always"];

    internal HlsConfig? ReadHls(YamlNode node, HlsConfig hls, string context)
    {
        var hlsContext = $"{context}: hls";
        if (Mapping(node, context, "hls") is not { } map)
        {
            return null;
        }
        foreach (var (key, value) in Entries(map, hlsContext, s_hlsKeys))
        {
            switch (key)
            {
                case "enabled":
                    hls = hls with { Enabled = Bool(value, hlsContext, key) ?? hls.Enabled };
                    break;
                case "always":
                    hls = hls with { Always = Bool(value, hlsContext, key) ?? hls.Always };
                    break;
                case "segment-duration":
                    if (Duration(value, hlsContext, key) is { } duration)
                    {
                        if (duration < TimeSpan.FromMilliseconds(500) || duration > TimeSpan.FromSeconds(60))
                        {
                            Error(hlsContext, key, $"must be between 500ms and 60s (got {duration.TotalSeconds:0.###}s)");
                        }
                        else
                        {
                            hls = hls with { SegmentDuration = duration };
                        }
                    }
                    break;
                case "window":
                    if (Int(value, hlsContext, key) is { } window)
                    {
                        if (window is < 2 or > 100)
                        {
                            Error(hlsContext, key, $"must be between 2 and 100 segments (got {window}; 6 is usual)");
                        }
                        else
                        {
                            hls = hls with { Window = window };
                        }
                    }
                    break;
                case "idle-timeout":
                    if (Duration(value, hlsContext, key) is { } idle)
                    {
                        if (idle < TimeSpan.FromSeconds(1))
                        {
                            Error(hlsContext, key, "must be at least 1s (players reload the playlist every target duration)");
                        }
                        else
                        {
                            hls = hls with { IdleTimeout = idle };
                        }
                    }
                    break;
            }
        }
        return hls;
    }
}

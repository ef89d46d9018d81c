using Savate.Server.Configuration;
using Savate.Server.Hosting;

namespace Savate.Server;

public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "token")
        {
            return Auth.TokenCommand.Run(args[1..], Console.Out, Console.Error);
        }

        var configPath = "savate.yaml";
        var check = false;
        var rest = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--check")
            {
                check = true;
            }
            else if (args[i] is "--config" or "-c" && i + 1 < args.Length)
            {
                configPath = args[++i];
            }
            else if (args[i].StartsWith("--config=", StringComparison.Ordinal))
            {
                configPath = args[i]["--config=".Length..];
            }
            else
            {
                rest.Add(args[i]);
            }
        }

        SavateConfig config;
        try
        {
            config = ConfigLoader.Load(configPath);
        }
        catch (ConfigException e)
        {
            await Console.Error.WriteLineAsync($"savate: {configPath}: {e.Message}").ConfigureAwait(false);
            return check ? 1 : 2;
        }

        if (check)
        {
            return await CheckAsync(config, configPath).ConfigureAwait(false);
        }

        Microsoft.AspNetCore.Builder.WebApplication app;
        try
        {
            app = SavateApp.Build(config, [.. rest], configPath: configPath);
        }
        catch (InvalidDataException e)
        {
            await Console.Error.WriteLineAsync($"savate: {configPath}: {e.Message}").ConfigureAwait(false);
            return 2;
        }
        await app.RunAsync().ConfigureAwait(false);
        return 0;
    }

    /// <summary>
    /// <c>savate --check [--config FILE]</c>: validates the file as start-up and a reload would (fallback files
    /// included), binds nothing, and exits 0, or 1 with every error listed.
    /// </summary>
    private static async Task<int> CheckAsync(SavateConfig config, string configPath)
    {
        var errors = new List<string>();
        foreach (var (context, chain) in config.Mounts.Select((m, i) => ($"mounts[{i}] ({m.Path})", m.Fallback))
            .Append(("server.mount-defaults", config.Server.MountDefaults.Fallback)))
        {
            for (var i = 0; i < chain.Count; i++)
            {
                if (chain[i].FullPath is { } file)
                {
                    try
                    {
                        Streaming.Feeds.FileMedia.Load(file);
                    }
                    catch (InvalidDataException e)
                    {
                        errors.Add($"{context}: fallback[{i}]: file: {e.Message}");
                    }
                }
            }
        }
        errors.AddRange(Relaying.RelayService.Check(config));
        if (errors.Count > 0)
        {
            await Console.Error.WriteLineAsync($"savate: {configPath}: {new ConfigException(errors).Message}").ConfigureAwait(false);
            return 1;
        }
        await Console.Out.WriteLineAsync($"savate: {configPath}: OK ({config.Mounts.Count} mount(s), {config.Relays.Count} relay(s){(config.Master is null ? "" : ", a master")})").ConfigureAwait(false);
        return 0;
    }
}

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
        var rest = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] is "--config" or "-c" && i + 1 < args.Length)
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
            return 2;
        }

        Microsoft.AspNetCore.Builder.WebApplication app;
        try
        {
            app = SavateApp.Build(config, [.. rest]);
        }
        catch (InvalidDataException e)
        {
            await Console.Error.WriteLineAsync($"savate: {configPath}: {e.Message}").ConfigureAwait(false);
            return 2;
        }
        await app.RunAsync().ConfigureAwait(false);
        return 0;
    }
}

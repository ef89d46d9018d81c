// src/Savate.Server/Configuration/IConfigReloader.cs
namespace Savate.Server.Configuration;

/// <summary>Reloads the configuration file: validated first, applied mount by mount, all or nothing.</summary>
public interface IConfigReloader
{
    /// <summary>Reads and applies the config file; on failure nothing changes and the errors are returned.</summary>
    /// <param name="trigger">What asked for the reload (for the log): "SIGHUP", "file change", "admin API".</param>
    /// <param name="cancellationToken">Cancels the reload before it is applied.</param>
    Task<ConfigReloadResult> ReloadAsync(string trigger, CancellationToken cancellationToken = default);
}

/// <summary>What a reload did: on failure, every validation error and no change.</summary>
/// <param name="Success">True when the new config was valid and applied.</param>
/// <param name="Errors">Every validation error, as the start-up messages.</param>
/// <param name="Changes">One line per mount added, changed or removed, and the settings needing a restart.</param>
public sealed record ConfigReloadResult(bool Success, IReadOnlyList<string> Errors, IReadOnlyList<string> Changes);

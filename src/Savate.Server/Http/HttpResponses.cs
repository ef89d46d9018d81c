using Microsoft.AspNetCore.Http;

namespace Savate.Server.Http;

internal static class HttpResponses
{
    public static Task WritePlainAsync(HttpContext context, int statusCode, string message)
    {
        context.Response.StatusCode = statusCode;
        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.Headers.CacheControl = "no-cache";
        if (statusCode == 401)
        {
            context.Response.Headers.WWWAuthenticate = BasicAuth.Challenge;
        }
        if (statusCode is 503 or 429)
        {
            context.Response.Headers.RetryAfter = RetryAfter(statusCode);
        }
        return HttpMethods.IsHead(context.Request.Method) ? Task.CompletedTask : context.Response.WriteAsync(message + "\n");
    }

    /// <summary>A 302 to <paramref name="location"/> (a listener sent to a slave); no body, as a player follows it at once.</summary>
    public static void WriteRedirect(HttpContext context, string location)
    {
        context.Response.StatusCode = 302;
        context.Response.Headers.Location = location;
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers.AccessControlAllowOrigin = "*";
        context.Response.ContentLength = 0;
    }

    /// <summary>The same 302 as <see cref="WriteRedirect"/>, as bytes for the connection-level listener path, which then closes.</summary>
    public static byte[] RawRedirect(string version, string location)
    {
        var text = $"{version} 302 Found\r\n" +
            $"Location: {location}\r\n" +
            $"Date: {DateTimeOffset.UtcNow:r}\r\n" +
            "Cache-Control: no-cache\r\n" +
            "Access-Control-Allow-Origin: *\r\n" +
            "Content-Length: 0\r\n" +
            "Connection: close\r\n" +
            "\r\n";
        return System.Text.Encoding.ASCII.GetBytes(text);
    }

    /// <summary>
    /// The same plain-text answer as <see cref="WritePlainAsync"/>, as bytes for the connection-level paths
    /// (raw sources and listeners), which then close the connection.
    /// </summary>
    public static byte[] RawPlain(string version, int statusCode, string message, bool includeBody = true)
    {
        var body = message + "\n";
        var challenge = statusCode == 401 ? $"WWW-Authenticate: {BasicAuth.Challenge}\r\n" : string.Empty;
        var retry = statusCode is 503 or 429 ? $"Retry-After: {RetryAfter(statusCode)}\r\n" : string.Empty;
        var text = $"{version} {statusCode} {ReasonPhrase(statusCode)}\r\n" +
            "Content-Type: text/plain; charset=utf-8\r\n" +
            $"Date: {DateTimeOffset.UtcNow:r}\r\n" +
            "Cache-Control: no-cache\r\n" +
            challenge +
            retry +
            $"Content-Length: {System.Text.Encoding.UTF8.GetByteCount(body)}\r\n" +
            "Connection: close\r\n" +
            "\r\n" +
            (includeBody ? body : string.Empty);
        return System.Text.Encoding.UTF8.GetBytes(text);
    }

    // 429 comes from a per-address cap (Http/AddressLimits.cs), whose rate refills every second.
    private static string RetryAfter(int statusCode) => statusCode == 429 ? AddressLimits.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture) : "5";

    public static string ReasonPhrase(int statusCode) => statusCode switch
    {
        100 => "Continue",
        200 => "OK",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        409 => "Conflict",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    };
}

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
        if (statusCode == 503)
        {
            context.Response.Headers.RetryAfter = "5";
        }
        return HttpMethods.IsHead(context.Request.Method) ? Task.CompletedTask : context.Response.WriteAsync(message + "\n");
    }

    public static string ReasonPhrase(int statusCode) => statusCode switch
    {
        100 => "Continue",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        408 => "Request Timeout",
        409 => "Conflict",
        415 => "Unsupported Media Type",
        503 => "Service Unavailable",
        _ => "Error",
    };
}

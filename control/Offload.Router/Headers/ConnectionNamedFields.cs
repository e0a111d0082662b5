using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.Transforms;

namespace Offload.Router.Headers;

/// <summary>
/// Drops the fields that a Connection header names (RFC 9110 7.6.1: they are for this hop only) in both directions:
/// the client's, before anything is forwarded, with the names <see cref="ConnectionOptionsTap"/> read off the wire;
/// the backend's, before its response goes to the client, with the names HttpClient parsed. YARP drops the fixed
/// hop-by-hop set (Connection, Keep-Alive, Proxy-Connection, TE, Upgrade and the like) by itself.
/// </summary>
internal static class ConnectionNamedFields
{
    /// <summary>The Kestrel connection middleware that puts a tap under the HTTP/1.1 parser, reachable as a connection feature.</summary>
    public static ConnectionDelegate Tap(ConnectionDelegate next) => connection =>
    {
        var tap = new ConnectionOptionsTap(connection.Transport.Input);
        connection.Transport = new TappedPipe(tap, connection.Transport.Output);
        connection.Features.Set(tap);
        return next(connection);
    };

    /// <summary>
    /// A response transform: the fields the backend's Connection header named leave the response YARP copied. A
    /// field that frames the message or carries an upgrade is the proxy's own business and stays.
    /// </summary>
    public static ValueTask StripResponse(ResponseTransformContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.ProxyResponse is { } response)
        {
            foreach (string name in response.Headers.Connection)
            {
                if (!name.Equals("content-length", StringComparison.OrdinalIgnoreCase) && !name.Equals("transfer-encoding", StringComparison.OrdinalIgnoreCase)
                    && !name.Equals("upgrade", StringComparison.OrdinalIgnoreCase))
                    context.HttpContext.Response.Headers.Remove(name);
            }
        }
        return default;
    }

    /// <summary>
    /// The first step of the proxy's pipeline, for every request (routed or not, so the count of requests matches the
    /// count of heads). A request the tap cannot vouch for is refused: it never happens while the framing is followed.
    /// </summary>
    public static Task Strip(HttpContext context, RequestDelegate next)
    {
        // Kestrel's HTTP features fall back to the connection's, where the tap was put.
        var tap = context.Features.Get<ConnectionOptionsTap>();
        if (tap is null || !HttpProtocol.IsHttp11(context.Request.Protocol) && !HttpProtocol.IsHttp10(context.Request.Protocol))
            return next(context);
        if (tap.Lost || ++tap.Requests != tap.Heads)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            context.Response.Headers.Connection = "close";
            return Task.CompletedTask;
        }
        if (tap.Named is { } names)
        {
            foreach (string name in names)
            {
                // Fields the proxy rebuilds for the next hop anyway, or that YARP needs to carry an upgrade, stay.
                if (name is not ("host" or "content-length" or "transfer-encoding" or "upgrade"))
                    context.Request.Headers.Remove(name);
            }
        }
        if (tap.Opaque)
        {
            // After an upgrade or CONNECT the tap no longer follows the connection; if the backend does not switch
            // protocols, the client's next request must come on a new connection.
            context.Response.OnStarting(static state =>
            {
                var response = ((HttpContext)state).Response;
                if (response.StatusCode != StatusCodes.Status101SwitchingProtocols)
                    response.Headers.Connection = "close";
                return Task.CompletedTask;
            }, context);
        }
        return next(context);
    }
}

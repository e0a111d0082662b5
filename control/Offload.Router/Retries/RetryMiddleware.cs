using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Timeouts;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace Offload.Router.Retries;

/// <summary>
/// Sends a request again, to another backend of its pool, when its upstream failed before a byte of the answer
/// came back (YARP's <see cref="ForwarderError.Request"/>: no connection, or it broke before the response headers),
/// and only when that is safe: an idempotent method (RFC 9110 9.2.2) and no request body, so nothing the client
/// sent has been consumed, and the client has been sent nothing. A timeout is not retried: the backend may still be
/// working on it. YARP has no retries of its own; this is the smallest way in: a step of YARP's proxy pipeline that
/// runs affinity, load balancing and forwarding once more with the failed backends taken out, rather than a
/// handler under the HTTP client that would have to redo YARP's choice of backend and its URL.
/// </summary>
internal sealed class RetryMiddleware(RequestDelegate next, RouterMetrics metrics)
{
    public const string RetriesKey = YarpConfig.RetriesKey;

    public async Task InvokeAsync(HttpContext context)
    {
        var feature = context.GetReverseProxyFeature();
        string route = feature.Route.Config.RouteId;
        int retries = feature.Route.Config.Metadata is { } meta && meta.TryGetValue(RetriesKey, out string? text)
            && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : 0;
        bool safe = retries > 0 && IsIdempotent(context.Request.Method) && context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody != true;
        IReadOnlyList<DestinationState> candidates = feature.AvailableDestinations;
        for (int attempt = 0; ; attempt++)
        {
            long start = Stopwatch.GetTimestamp();
            await next(context).ConfigureAwait(false);
            string backend = feature.ProxiedDestination?.DestinationId ?? "";
            if (feature.ProxiedDestination is not null)
                metrics.Upstream(route, backend, Stopwatch.GetElapsedTime(start));
            var error = context.Features.Get<IForwarderErrorFeature>();
            if (error is not null && !context.Response.HasStarted && context.Features.Get<IHttpRequestTimeoutFeature>()?.RequestTimeoutToken.IsCancellationRequested == true)
            {
                // The route's timeout (ASP.NET's request-timeouts middleware) cancels the request through the same token
                // as a client that went away, and YARP answers that with 400; the client is still there and is owed a 504.
                context.Response.StatusCode = StatusCodes.Status504GatewayTimeout;
                return;
            }
            if (!safe || attempt >= retries || error?.Error != ForwarderError.Request || context.Response.HasStarted || feature.ProxiedDestination is not { } failed)
                return;
            candidates = [.. candidates.Where(d => !ReferenceEquals(d, failed))];
            if (candidates.Count == 0)
                return;
            metrics.Retry(route, backend);
            // Back to the state before the attempt: YARP set a 502 and its error, and narrowed the candidates to one.
            context.Features.Set<IForwarderErrorFeature>(null);
            context.Response.StatusCode = StatusCodes.Status200OK;
            feature.AvailableDestinations = candidates;
            feature.ProxiedDestination = null;
        }
    }

    private static bool IsIdempotent(string method) =>
        HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method) || HttpMethods.IsTrace(method)
        || HttpMethods.IsPut(method) || HttpMethods.IsDelete(method);
}

using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Model;
using Yarp.ReverseProxy.SessionAffinity;

namespace Offload.Router.SessionAffinity;

/// <summary>
/// Affinity that lives in the cookie, not in one router's memory: the cookie holds the backend's id and an
/// HMAC-SHA256 of pool and id under the key every router of the pool shares (<c>router.affinityKey</c>). Any router,
/// a restarted one included, reads it and sends the client to the same backend while that backend is healthy.
/// YARP's own cookie policy protects the value with ASP.NET Data Protection, whose keys are made per process unless
/// they are persisted and shared: the cookies of a router that died would then mean nothing to the others. Nothing
/// here is secret (the id is readable); the HMAC only stops a client from steering itself to a backend of its choice.
/// </summary>
internal sealed class SignedCookieAffinityPolicy : ISessionAffinityPolicy
{
    public const string PolicyName = "OffloadSignedCookie";
    private const int MacBytes = 16;
    private readonly byte[] _key;

    public SignedCookieAffinityPolicy(RouterKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        _key = key.Affinity;
    }

    public string Name => PolicyName;

    public AffinityResult FindAffinitizedDestinations(HttpContext context, ClusterState cluster, SessionAffinityConfig config, IReadOnlyList<DestinationState> destinations)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(destinations);
        if (!context.Request.Cookies.TryGetValue(config.AffinityKeyName, out string? value) || string.IsNullOrEmpty(value))
            return new AffinityResult(null, AffinityStatus.AffinityKeyNotSet);
        if (Verify(cluster.ClusterId, value) is not { } id)
            return new AffinityResult(null, AffinityStatus.AffinityKeyExtractionFailed);
        foreach (var d in destinations)
        {
            if (string.Equals(d.DestinationId, id, StringComparison.Ordinal))
            {
                // Remembered so that the answer does not set the same cookie again.
                context.Items[this] = id;
                return new AffinityResult([d], AffinityStatus.OK);
            }
        }
        return new AffinityResult(null, AffinityStatus.DestinationNotFound);
    }

    public void AffinitizeResponse(HttpContext context, ClusterState cluster, SessionAffinityConfig config, DestinationState destination)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(destination);
        if (context.Items.TryGetValue(this, out object? had) && had is string id && string.Equals(id, destination.DestinationId, StringComparison.Ordinal))
            return;
        var cookie = config.Cookie;
        context.Response.Cookies.Append(config.AffinityKeyName, Sign(cluster.ClusterId, destination.DestinationId), new CookieOptions
        {
            Path = cookie?.Path ?? "/",
            Domain = cookie?.Domain,
            HttpOnly = cookie?.HttpOnly ?? true,
            SameSite = cookie?.SameSite ?? SameSiteMode.Lax,
            Secure = cookie?.SecurePolicy == CookieSecurePolicy.Always || (cookie?.SecurePolicy != CookieSecurePolicy.None && context.Request.IsHttps),
            MaxAge = cookie?.MaxAge,
            IsEssential = cookie?.IsEssential ?? false,
        });
    }

    internal string Sign(string pool, string destination)
    {
        Span<byte> mac = stackalloc byte[32];
        Mac(pool, destination, mac);
        return WebEncoders.Base64UrlEncode(Encoding.UTF8.GetBytes(destination)) + "." + WebEncoders.Base64UrlEncode(mac[..MacBytes].ToArray());
    }

    /// <summary>The destination id the cookie names, or null when it is not one this router's key signed for this pool.</summary>
    internal string? Verify(string pool, string value)
    {
        int dot = value.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0 || value.Length > 256)
            return null;
        try
        {
            string id = Encoding.UTF8.GetString(WebEncoders.Base64UrlDecode(value[..dot]));
            byte[] given = WebEncoders.Base64UrlDecode(value[(dot + 1)..]);
            Span<byte> mac = stackalloc byte[32];
            Mac(pool, id, mac);
            return given.Length == MacBytes && CryptographicOperations.FixedTimeEquals(given, mac[..MacBytes]) ? id : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private void Mac(string pool, string destination, Span<byte> mac)
    {
        // Pool and id separated by a byte neither may hold, so ("a", "bc") and ("ab", "c") sign differently.
        byte[] message = Encoding.UTF8.GetBytes($"offload-affinity\0{pool}\0{destination}");
        HMACSHA256.HashData(_key, message, mac);
    }
}

/// <summary>The affinity key of the running config, shared with the policy (YARP creates policies once, from DI).</summary>
internal sealed class RouterKey(byte[] affinity)
{
    public byte[] Affinity { get; } = affinity;
}

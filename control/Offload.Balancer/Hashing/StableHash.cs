using System.Runtime.CompilerServices;
using Offload.Device;

namespace Offload.Balancer.Hashing;

/// <summary>
/// 64-bit hashes that every gateway, every run and every build computes alike. Backend selection is only
/// consistent across gateways if they agree on these values, so they are part of the wire contract: changing
/// any constant here moves flows between backends during a mixed-version rollout. Golden values in the tests
/// pin them. <see cref="HashCode"/> is deliberately not used: it is seeded randomly per process.
/// </summary>
public static class StableHash
{
    /// <summary>The seed for flow (5-tuple and source-address) hashes unless a service configures its own.</summary>
    public const ulong DefaultFlowSeed = 0x6F66_666C_6F61_6430; // "offload0"

    /// <summary>Seed of the hash that places a backend's first preferred slot (Maglev's offset).</summary>
    public const ulong OffsetSeed = 0x4D41_474C_4556_4F46; // "MAGLEVOF"

    /// <summary>Seed of the hash that spaces a backend's preferred slots (Maglev's skip).</summary>
    public const ulong SkipSeed = 0x4D41_474C_4556_534B; // "MAGLEVSK"

    private const ulong Golden = 0x9E37_79B9_7F4A_7C15;

    /// <summary>
    /// MurmurHash3's 64-bit finaliser: a bijection in which every input bit affects every output bit with
    /// probability close to one half, so chaining it keeps distinct keys distinct.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Mix(ulong x)
    {
        x ^= x >> 33;
        x *= 0xFF51_AFD7_ED55_8CCD;
        x ^= x >> 33;
        x *= 0xC4CE_B9FE_1A85_EC53;
        x ^= x >> 33;
        return x;
    }

    /// <summary>
    /// Hash of a connection's 5-tuple. The ingress port is left out on purpose: which port a flow arrived on
    /// depends on how a gateway is cabled, and two gateways must pick the same backend for the same connection.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong OfFlow(in FlowKey key, ulong seed)
    {
        ulong addresses = ((ulong)key.SrcIp << 32) | key.DstIp;
        ulong rest = ((ulong)key.SrcPort << 48) | ((ulong)key.DstPort << 32) | ((ulong)key.Protocol << 24);
        return Mix(Mix(addresses ^ seed) ^ rest ^ Golden);
    }

    /// <summary>Hash of a source address alone (source-hash scheduling: one client, one backend).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong OfSource(uint srcIp, ulong seed) => Mix(Mix(srcIp ^ seed) ^ Golden);

    /// <summary>
    /// Hash of a backend's stable id. Reads UTF-16 code units four at a time in a fixed (little-endian) order,
    /// so the value does not depend on the machine's byte order or on any text encoding. The length goes in
    /// first so that ids differing only by trailing NULs still differ.
    /// </summary>
    public static ulong OfString(string text, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(text);
        ulong h = Mix(seed ^ Golden ^ ((ulong)text.Length * 0xD6E8_FEB8_6659_FD93));
        int i = 0;
        for (; i + 4 <= text.Length; i += 4)
        {
            ulong w = text[i] | ((ulong)text[i + 1] << 16) | ((ulong)text[i + 2] << 32) | ((ulong)text[i + 3] << 48);
            h = Mix(h ^ w);
        }
        if (i < text.Length)
        {
            ulong w = 0;
            for (int shift = 0; i < text.Length; i++, shift += 16)
                w |= (ulong)text[i] << shift;
            h = Mix(h ^ w);
        }
        return h;
    }
}

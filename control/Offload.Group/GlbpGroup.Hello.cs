using Offload.Protocol.Glbp;

namespace Offload.Group;

// The hello every member sends: Auth (if configured), Hello, then one Request/Response per forwarder it knows.
public sealed partial class GlbpGroup
{
    /// <summary>
    /// Forwarder priority in our Request/Response TLVs: 0 says "I will not forward" (below the lower threshold,
    /// or resigning), which secondaries act on at once. The two non-zero values are ours; no decode of Cisco's
    /// meaning for this byte is public, and Cisco peers are not known to rank by it.
    /// </summary>
    public const byte OwnerForwarderPriority = 167;

    public const byte SecondaryForwarderPriority = 135;

    private void SendHello(bool resign)
    {
        var writer = new GlbpWriter(_tx, new GlbpHeader(_options.Group, _options.LocalMac));
        GlbpAuthSettings auth = _options.Authentication;
        switch (auth.Mode)
        {
            case GlbpAuthMode.PlainText:
                writer.WriteAuthText(auth.Key.Span);
                break;
            case GlbpAuthMode.Md5KeyString:
                writer.WriteAuthMd5KeyString();
                break;
            case GlbpAuthMode.Md5KeyChain:
                writer.WriteAuthMd5KeyChain(auth.KeyId);
                break;
            case GlbpAuthMode.OffloadHmacSha256:
                writer.WriteOffloadAuth((ushort)auth.KeyId, ++_sequence);
                break;
        }

        GlbpVgState state = resign ? GlbpVgState.Listen : _state switch
        {
            GatewayState.Speak => GlbpVgState.Speak,
            GatewayState.Standby => GlbpVgState.Standby,
            GatewayState.Active => GlbpVgState.Active,
            _ => GlbpVgState.Listen,
        };
        writer.WriteHello(new GlbpHello(state, _priority, (uint)_options.HelloTime.TotalMilliseconds, (uint)_options.HoldTime.TotalMilliseconds,
            (ushort)_options.RedirectTime.TotalSeconds, (ushort)_options.TimeoutTime.TotalSeconds, _virtualIp));

        int known = 0;
        foreach (var f in _forwarders)
        {
            if (f is not null)
                known++;
        }
        int room = (GlbpProtocol.MaxLength - writer.Length) / GlbpForwarder.Length;
        if (known <= room)
        {
            foreach (var f in _forwarders)
            {
                if (f is not null)
                    WriteForwarder(ref writer, f, resign);
            }
        }
        else
        {
            // Only an Offload-only group with more than ~70 forwarders gets here: the ones we forward must be in,
            // as they are our claims; the rest are only our view of the table.
            foreach (var f in _forwarders)
            {
                if (f is { State: ForwarderState.Active } && room-- > 0)
                    WriteForwarder(ref writer, f, resign);
            }
            foreach (var f in _forwarders)
            {
                if (f is not null && f.State != ForwarderState.Active && room-- > 0)
                    WriteForwarder(ref writer, f, resign);
            }
        }

        WriteLoads(ref writer, resign);

        int length = writer.Length;
        Span<byte> message = _tx.AsSpan(0, length);
        if (auth.Mode is GlbpAuthMode.Md5KeyString or GlbpAuthMode.Md5KeyChain)
            GlbpAuthenticator.SignMd5(message, _options.LocalIp, auth.Key.Span);
        else if (auth.Mode == GlbpAuthMode.OffloadHmacSha256)
            GlbpAuthenticator.SignOffload(message, _options.LocalIp, auth.Key.Span);
        _transport.Send(message);
    }

    private void WriteForwarder(ref GlbpWriter writer, Forwarder f, bool resign)
    {
        bool willing = !resign && _weighting.Forwarding;
        byte priority = !willing ? (byte)0 : f.OwnerMac == _options.LocalMac ? OwnerForwarderPriority : SecondaryForwarderPriority;
        var state = !resign && f.State == ForwarderState.Active ? GlbpVfState.Active : GlbpVfState.Listen;
        // The owner's MAC rides in the 7 undecoded bytes: that is how our AVG tells a member which forwarder is its
        // own (Offload's convention; Cisco's assignment encoding is not public).
        writer.WriteForwarder(new GlbpForwarder(f.Number, state, priority, _weighting.Current, f.Vmac) { Unknown22 = f.OwnerMac });
    }
}

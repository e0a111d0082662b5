using Offload.Protocol.Glbp;

namespace Offload.Group;

// The hello every member sends: Auth (if configured), Hello, then one Request/Response per forwarder it knows.
public sealed partial class GlbpGroup
{
    /// <summary>Forwarder priority of the primary (owner), as Cisco sends it.</summary>
    public const byte OwnerForwarderPriority = GlbpOwnership.PrimaryPriority;

    /// <summary>Forwarder priority of a secondary, as Cisco sends it.</summary>
    public const byte SecondaryForwarderPriority = GlbpOwnership.SecondaryPriority;

    /// <summary>
    /// Offload's value for "I will not forward" (below the lower threshold, or resigning), which secondaries act on
    /// at once. What a Cisco router sends in that case is not known; 0 ranks below both of its values.
    /// </summary>
    public const byte UnwillingForwarderPriority = GlbpOwnership.UnwillingPriority;

    private int _sourceRotation;

    // A vMAC this member has just started forwarding: the next hello goes from it, so a learning switch points the
    // vMAC at this port within one message of a takeover instead of flooding it (or sending it to the dead box).
    private ulong _freshSource;

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
        if (_state == GatewayState.Active && !resign)
            WriteOwners(ref writer);

        int length = writer.Length;
        Span<byte> message = _tx.AsSpan(0, length);
        if (auth.Mode is GlbpAuthMode.Md5KeyString or GlbpAuthMode.Md5KeyChain)
            GlbpAuthenticator.SignMd5(message, _options.LocalIp, auth.Key.Span);
        else if (auth.Mode == GlbpAuthMode.OffloadHmacSha256)
            GlbpAuthenticator.SignOffload(message, _options.LocalIp, auth.Key.Span);
        _transport.Send(message, HelloSource());
    }

    /// <summary>
    /// Cisco sends each hello from one of the vMACs the router forwards, which keeps every switch's table pointing
    /// at the live forwarder; taking them in turn keeps all of them fresh when it forwards several (a stand-in).
    /// With none, the gateway's own MAC.
    /// </summary>
    private ulong HelloSource()
    {
        ulong fresh = _freshSource;
        _freshSource = 0;
        if (fresh != 0 && GlbpVirtualMac.TryParse(fresh, out _, out byte number) && _forwarders[number] is { State: ForwarderState.Active })
            return fresh;
        int active = 0;
        foreach (var f in _forwarders)
        {
            if (f is { State: ForwarderState.Active })
                active++;
        }
        if (active == 0)
            return _options.LocalMac;
        int pick = _sourceRotation++ % active;
        foreach (var f in _forwarders)
        {
            if (f is { State: ForwarderState.Active } && pick-- == 0)
                return f.Vmac;
        }
        return _options.LocalMac;
    }

    /// <summary>The Active AVG's record of owners, in Offload's own TLV (Cisco routers skip it).</summary>
    private void WriteOwners(ref GlbpWriter writer)
    {
        foreach (var f in _forwarders)
        {
            if (f is null || f.OwnerMac == 0)
                continue;
            if (GlbpProtocol.MaxLength - writer.Length < GlbpOffloadOwner.Length)
                return;
            writer.WriteOffloadOwner(new GlbpOffloadOwner(f.Number, f.OwnerMac));
        }
    }

    private void WriteForwarder(ref GlbpWriter writer, Forwarder f, bool resign)
    {
        bool willing = !resign && _weighting.Forwarding;
        bool primary = f.OwnerMac == _options.LocalMac;
        byte priority = !willing ? UnwillingForwarderPriority : primary ? OwnerForwarderPriority : SecondaryForwarderPriority;
        var state = !resign && f.State == ForwarderState.Active ? GlbpVfState.Active : GlbpVfState.Listen;
        // A primary sends the full time-out and redirect; everyone else counts them down from the primary's loss.
        TimeSpan? lost = primary || f.OwnerLostAt == Never ? null : TimeSpan.FromTicks(Math.Max(0, Now - f.OwnerLostAt));
        var (timeout, redirect) = GlbpOwnership.Remaining((ushort)_options.TimeoutTime.TotalSeconds, (ushort)_options.RedirectTime.TotalSeconds, lost);
        writer.WriteForwarder(new GlbpForwarder(f.Number, state, priority, _weighting.Current, f.Vmac)
        {
            TimeoutRemaining = timeout,
            RedirectRemaining = redirect,
        });
    }
}

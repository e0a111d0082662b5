using Microsoft.Extensions.Logging;
using Offload.Protocol.Glbp;

namespace Offload.Group;

internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "GLBP {Group}: gateway {From} -> {To} ({Reason})")]
    public static partial void GatewayState(ILogger logger, ushort group, GatewayState from, GatewayState to, string reason);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "GLBP {Group}: forwarder {Forwarder} {From} -> {To} ({Reason})")]
    public static partial void ForwarderState(ILogger logger, ushort group, byte forwarder, ForwarderState from, ForwarderState to, string reason);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "GLBP {Group}: forwarder {Forwarder} taken by {OwnerMac:x12} as its own")]
    public static partial void Assigned(ILogger logger, ushort group, byte forwarder, ulong ownerMac);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "GLBP {Group}: forwarder {Forwarder} is also claimed by {OwnerMac:x12}, whose higher MAC keeps it; this gateway picks another number")]
    public static partial void OwnerConflict(ILogger logger, ushort group, byte forwarder, ulong ownerMac);

    [LoggerMessage(EventId = 4, Level = LogLevel.Debug, Message = "GLBP {Group}: message from {Source:x8} failed authentication ({Status})")]
    public static partial void AuthFailed(ILogger logger, ushort group, uint source, GlbpAuthStatus status);
}

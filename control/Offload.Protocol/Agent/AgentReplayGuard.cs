using System.Text;

namespace Offload.Protocol.Agent;

/// <summary>
/// Remembers the newest (boot id, sequence) accepted from each agent and refuses anything not newer. Feed it
/// only authenticated messages: otherwise a forged datagram could move an agent's boot id forward and lock out
/// the real agent. Not thread-safe: one receive loop owns it.
/// </summary>
public sealed class AgentReplayGuard
{
    private readonly Dictionary<string, (ulong Boot, ulong Sequence)> _last = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (ulong Boot, ulong Sequence)>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    public AgentReplayGuard()
    {
        _lookup = _last.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Agents seen so far.</summary>
    public int Count => _last.Count;

    /// <summary>Accepts (and records) the message if it is newer than the agent's last one.</summary>
    public AgentReject Check(ReadOnlySpan<byte> id, ulong bootId, ulong sequence)
    {
        if (id.Length is 0 or > AgentProtocol.MaxIdLength)
            return AgentReject.BadIdLength;
        Span<char> chars = stackalloc char[AgentProtocol.MaxIdLength];
        int n = Encoding.ASCII.GetChars(id, chars);
        ReadOnlySpan<char> key = chars[..n];
        if (!_lookup.TryGetValue(key, out var last))
        {
            _last.Add(key.ToString(), (bootId, sequence));
            return AgentReject.None;
        }
        if (bootId < last.Boot)
            return AgentReject.StaleBoot;
        if (bootId == last.Boot && sequence <= last.Sequence)
            return AgentReject.Replayed;
        _lookup[key] = (bootId, sequence);
        return AgentReject.None;
    }

    public void Forget(string id) => _last.Remove(id);
}

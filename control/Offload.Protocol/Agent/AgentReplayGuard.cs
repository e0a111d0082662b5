using System.Text;

namespace Offload.Protocol.Agent;

/// <summary>
/// Remembers the newest (boot id, sequence) accepted from each agent and refuses anything not newer. Feed it
/// only authenticated messages: otherwise a forged datagram could move an agent's boot id forward. Even an
/// authenticated one can (a stray agent with the same id and key, a clock that stepped): so the newest pair is
/// only held while its sender keeps talking. Once nothing has been accepted for the silence given with it (the
/// agent's fall time), the next message is taken whatever its boot id and sequence, provided its sender time is
/// later than that of the message it replaces (capped at our clock when accepted), so a message captured before
/// cannot be replayed in. Not thread-safe: one receive loop owns it.
/// </summary>
public sealed class AgentReplayGuard
{
    private readonly Dictionary<string, Entry> _last = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Entry>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly TimeProvider _time;

    public AgentReplayGuard(TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        _lookup = _last.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Agents seen so far.</summary>
    public int Count => _last.Count;

    /// <summary>Accepts (and records) the message if it is newer than the agent's last one; never forgets.</summary>
    public AgentReject Check(ReadOnlySpan<byte> id, ulong bootId, ulong sequence) =>
        Check(id, bootId, sequence, DateTimeOffset.MinValue, Timeout.InfiniteTimeSpan);

    /// <summary>
    /// Accepts (and records) the message if it is newer than the agent's last one, or if that one is older than
    /// its <paramref name="silentAfter"/> and <paramref name="sent"/> is later than it was sent.
    /// </summary>
    /// <param name="sent">The message's sender time.</param>
    /// <param name="silentAfter">How long after this message, if accepted, its agent counts as silent; infinite: never.</param>
    public AgentReject Check(ReadOnlySpan<byte> id, ulong bootId, ulong sequence, DateTimeOffset sent, TimeSpan silentAfter)
    {
        if (id.Length is 0 or > AgentProtocol.MaxIdLength)
            return AgentReject.BadIdLength;
        Span<char> chars = stackalloc char[AgentProtocol.MaxIdLength];
        int n = Encoding.ASCII.GetChars(id, chars);
        ReadOnlySpan<char> key = chars[..n];
        long now = _time.GetTimestamp();
        DateTimeOffset wall = _time.GetUtcNow();
        // A message dated ahead of our clock must not raise the bar that later genuine messages have to clear.
        var entry = new Entry(bootId, sequence, now, sent < wall ? sent : wall, silentAfter);
        if (!_lookup.TryGetValue(key, out var last))
        {
            _last.Add(key.ToString(), entry);
            return AgentReject.None;
        }
        bool newer = bootId > last.Boot || (bootId == last.Boot && sequence > last.Sequence);
        if (!newer)
        {
            bool silent = last.SilentAfter != Timeout.InfiniteTimeSpan && _time.GetElapsedTime(last.AcceptedAt, now) >= last.SilentAfter;
            if (!silent || sent <= last.Sent)
                return bootId < last.Boot ? AgentReject.StaleBoot : AgentReject.Replayed;
        }
        _lookup[key] = entry;
        return AgentReject.None;
    }

    public void Forget(string id) => _last.Remove(id);

    private readonly record struct Entry(ulong Boot, ulong Sequence, long AcceptedAt, DateTimeOffset Sent, TimeSpan SilentAfter);
}

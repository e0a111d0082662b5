using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Text;

namespace Offload.Router.Headers;

/// <summary>
/// Reads the names that a request's Connection fields carry from the bytes on the wire. Kestrel (.NET 10) hands the
/// app a Connection field rewritten to its own value whenever it holds keep-alive, close or upgrade:
/// <c>Connection: keep-alive, X-Hop</c> reaches the app as <c>keep-alive</c>, and a second Connection line is gone
/// too (measured), so the fields RFC 9110 7.6.1 makes hop-by-hop cannot be told from the request Kestrel builds.
/// <para>
/// This reader sits between the socket and Kestrel's HTTP/1.1 parser and sees every byte once, when Kestrel says it
/// is done with it (<see cref="AdvanceTo(SequencePosition, SequencePosition)"/>). It follows the message framing as
/// Kestrel does (a head up to its empty line, then a Content-Length body, a chunked body or none) so that a body
/// that looks like a head is skipped, and keeps, for the head it read last, the Connection names and its number on
/// the connection. Kestrel parses one request at a time and consumes a request's head before it runs the app, so
/// when the app runs for the n-th request the n-th head is the last one read. Bodies are counted, not copied.
/// </para>
/// <para>
/// An upgrade (Connection: upgrade) or CONNECT turns the rest of the connection into something that is not HTTP/1.1
/// if the upgrade happens, so the reader stops following there (<see cref="Opaque"/>); the app closes the connection
/// after such a request when it is not upgraded. A line over <see cref="MaxLine"/> also stops it (<see cref="Lost"/>):
/// Kestrel refuses heads that big and closes the connection itself.
/// </para>
/// </summary>
internal sealed class ConnectionOptionsTap(PipeReader inner) : PipeReader
{
    /// <summary>Longer than any line Kestrel takes (request line 8 KiB, all headers 32 KiB by default).</summary>
    public const int MaxLine = 64 * 1024;

    private enum State
    {
        RequestLine,
        Headers,
        Body,
        ChunkSize,
        ChunkData,
        ChunkDataEnd,
        Trailers,
        Opaque,
        Lost,
    }

    private ReadResult _last;
    private State _state = State.RequestLine;
    private byte[] _line = [];
    private int _lineLength;
    private long _remaining;
    private bool _chunked;
    private bool _upgrade;
    private bool _connect;
    private List<string>? _names;

    /// <summary>Request heads read whole on this connection so far.</summary>
    public long Heads { get; private set; }

    /// <summary>The names the last head's Connection fields carry (lower case, without keep-alive and close); null when none.</summary>
    public IReadOnlyList<string>? Named { get; private set; }

    /// <summary>Requests the app has seen on this connection (the app counts them, to match them with <see cref="Heads"/>).</summary>
    public long Requests { get; set; }

    /// <summary>The last head asked for an upgrade or a tunnel: what follows is not followed.</summary>
    public bool Opaque => _state == State.Opaque;

    /// <summary>The framing could not be followed (a line too long): nothing read after it can be vouched for.</summary>
    public bool Lost => _state == State.Lost;

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        var pending = inner.ReadAsync(cancellationToken);
        if (pending.IsCompletedSuccessfully)
        {
            // Result consumes the pipe's pending read: hand on a copy, not the same ValueTask.
            _last = pending.Result;
            return new ValueTask<ReadResult>(_last);
        }
        return Awaited(pending);
    }

    // Pooled: a read that waits for the socket is most reads, one per request or more; an unpooled box each time is garbage.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadResult> Awaited(ValueTask<ReadResult> pending)
    {
        _last = await pending.ConfigureAwait(false);
        return _last;
    }

    public override bool TryRead(out ReadResult result)
    {
        if (!inner.TryRead(out result))
            return false;
        _last = result;
        return true;
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        var buffer = _last.Buffer;
        if (_state < State.Opaque && !buffer.IsEmpty)
        {
            foreach (var segment in buffer.Slice(buffer.Start, consumed))
                Feed(segment.Span);
        }
        _last = default;
        inner.AdvanceTo(consumed, examined);
    }

    public override void CancelPendingRead() => inner.CancelPendingRead();

    public override void Complete(Exception? exception = null) => inner.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

    /// <summary>Follows the framing over bytes Kestrel has consumed, in order.</summary>
    internal void Feed(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty && _state < State.Opaque)
        {
            switch (_state)
            {
                case State.Body:
                case State.ChunkData:
                    {
                        int n = (int)Math.Min(_remaining, data.Length);
                        _remaining -= n;
                        data = data[n..];
                        if (_remaining == 0)
                            _state = _state == State.Body ? State.RequestLine : State.ChunkDataEnd;
                        break;
                    }
                default:
                    {
                        // Lines end at LF; a CR before it is dropped (Kestrel takes bare LF too unless told not to).
                        int lf = data.IndexOf((byte)'\n');
                        var part = lf < 0 ? data : data[..lf];
                        if (_lineLength + part.Length > MaxLine)
                        {
                            _state = State.Lost;
                            return;
                        }
                        if (_line.Length < _lineLength + part.Length)
                            Array.Resize(ref _line, Math.Max(_lineLength + part.Length, Math.Max(256, _line.Length * 2)));
                        part.CopyTo(_line.AsSpan(_lineLength));
                        _lineLength += part.Length;
                        if (lf < 0)
                            return;
                        data = data[(lf + 1)..];
                        var line = _line.AsSpan(0, _lineLength);
                        if (!line.IsEmpty && line[^1] == (byte)'\r')
                            line = line[..^1];
                        _lineLength = 0;
                        Line(line);
                        break;
                    }
            }
        }
    }

    private void Line(ReadOnlySpan<byte> line)
    {
        switch (_state)
        {
            case State.RequestLine:
                // Empty lines before a request line are skipped (RFC 9112 2.2).
                if (line.IsEmpty)
                    return;
                _connect = line.StartsWith("CONNECT "u8);
                (_chunked, _upgrade, _remaining, _names) = (false, false, 0, null);
                _state = State.Headers;
                return;
            case State.Headers:
                if (!line.IsEmpty)
                {
                    Header(line);
                    return;
                }
                Heads++;
                Named = _names;
                if (_upgrade || _connect)
                    _state = State.Opaque;
                else if (_chunked)
                    _state = State.ChunkSize;
                else
                    _state = _remaining > 0 ? State.Body : State.RequestLine;
                return;
            case State.ChunkSize:
                {
                    long size = 0;
                    int digits = 0;
                    foreach (byte c in line)
                    {
                        int v = c is >= (byte)'0' and <= (byte)'9' ? c - '0' : (c | 0x20) is >= 'a' and <= 'f' ? (c | 0x20) - 'a' + 10 : -1;
                        if (v < 0)
                            break;
                        // Kestrel refuses a chunk this big and closes the connection: nothing after it matters.
                        if (++digits > 15)
                        {
                            _state = State.Lost;
                            return;
                        }
                        size = (size << 4) | (uint)v;
                    }
                    _remaining = size;
                    _state = size == 0 ? State.Trailers : State.ChunkData;
                    return;
                }
            case State.ChunkDataEnd:
                _state = State.ChunkSize;
                return;
            case State.Trailers:
                if (line.IsEmpty)
                    _state = State.RequestLine;
                return;
        }
    }

    private void Header(ReadOnlySpan<byte> line)
    {
        int colon = line.IndexOf((byte)':');
        if (colon <= 0)
            return;
        var name = line[..colon];
        var value = line[(colon + 1)..].Trim(" \t"u8);
        if (name.Length == 10 && Ascii.EqualsIgnoreCase(name, "connection"u8))
        {
            foreach (var range in value.Split((byte)','))
            {
                var token = value[range].Trim(" \t"u8);
                if (token.IsEmpty || Ascii.EqualsIgnoreCase(token, "keep-alive"u8) || Ascii.EqualsIgnoreCase(token, "close"u8))
                    continue;
                if (Ascii.EqualsIgnoreCase(token, "upgrade"u8))
                    _upgrade = true;
                (_names ??= []).Add(Encoding.ASCII.GetString(token).ToLowerInvariant());
            }
        }
        else if (name.Length == 14 && Ascii.EqualsIgnoreCase(name, "content-length"u8))
        {
            // Kestrel refuses a length that does not parse, or two that differ, and closes the connection.
            long length = 0;
            foreach (byte c in value)
            {
                if (c is < (byte)'0' or > (byte)'9' || length > long.MaxValue / 10 - 10)
                    break;
                length = length * 10 + (c - '0');
            }
            _remaining = length;
        }
        else if (name.Length == 17 && Ascii.EqualsIgnoreCase(name, "transfer-encoding"u8))
        {
            // Chunked wins over a Content-Length, as in Kestrel; a coding that does not end in chunked is refused there.
            _chunked = true;
        }
    }
}

/// <summary>The tap's input with the socket's output: what a Kestrel connection middleware hands on.</summary>
internal sealed class TappedPipe(PipeReader input, PipeWriter output) : IDuplexPipe
{
    public PipeReader Input { get; } = input;

    public PipeWriter Output { get; } = output;
}

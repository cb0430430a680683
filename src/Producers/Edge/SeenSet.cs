using System.Security.Cryptography;
using System.Text;

namespace Streaming.Producers.Edge;

/// <summary>
/// A bounded set of strings that forgets the oldest entries first. Thread-safe. Keeps a 128-bit digest of each string, not
/// the string (~50 bytes an entry instead of ~200), so half a million entries cost about 25 MB; two different keys share a
/// digest with probability ~2^-128.
/// </summary>
public sealed class SeenSet(int capacity)
{
    private readonly HashSet<UInt128> _set = [];
    private readonly Queue<UInt128> _order = new();
    private readonly Lock _gate = new();

    /// <summary>Entries currently remembered.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _set.Count;
            }
        }
    }

    /// <summary>True when <paramref name="key"/> is remembered.</summary>
    public bool Contains(string key)
    {
        var digest = Digest(key);
        lock (_gate)
        {
            return _set.Contains(digest);
        }
    }

    /// <summary>Remembers <paramref name="key"/>, forgetting the oldest entry when full; false when it was already there.</summary>
    public bool Add(string key)
    {
        var digest = Digest(key);
        lock (_gate)
        {
            if (!_set.Add(digest))
            {
                return false;
            }

            _order.Enqueue(digest);
            while (_order.Count > capacity)
            {
                _set.Remove(_order.Dequeue());
            }

            return true;
        }
    }

    private static UInt128 Digest(string key)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(key), hash);
        return new UInt128(BitConverter.ToUInt64(hash[..8]), BitConverter.ToUInt64(hash[8..16]));
    }
}

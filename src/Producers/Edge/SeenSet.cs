namespace Streaming.Producers.Edge;

/// <summary>A bounded set of strings that forgets the oldest entries first. Thread-safe.</summary>
public sealed class SeenSet(int capacity)
{
    private readonly HashSet<string> _set = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();
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
        lock (_gate)
        {
            return _set.Contains(key);
        }
    }

    /// <summary>Remembers <paramref name="key"/>, forgetting the oldest entry when full; false when it was already there.</summary>
    public bool Add(string key)
    {
        lock (_gate)
        {
            if (!_set.Add(key))
            {
                return false;
            }

            _order.Enqueue(key);
            while (_order.Count > capacity)
            {
                _set.Remove(_order.Dequeue());
            }

            return true;
        }
    }
}

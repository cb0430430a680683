using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Npgsql;

namespace Streaming.Sinks.Ledger;

/// <summary>
/// Encodes rows in PostgreSQL's binary <c>COPY</c> format into one pooled buffer, sent in one piece through
/// <see cref="NpgsqlConnection.BeginRawBinaryCopyAsync"/>. It does what <see cref="NpgsqlBinaryImporter"/> does for the few types
/// the ledger uses, without a type resolution and an awaited call per field. Format (PostgreSQL docs, "COPY", binary format): the
/// signature <c>PGCOPY\n\377\r\n\0</c>, int32 flags and int32 header-extension length; per row an int16 field count, then per field
/// an int32 byte length (-1 for NULL) and the value in network byte order; an int16 -1 ends the data.
/// </summary>
internal sealed class PgBinaryCopyWriter : IDisposable
{
    private static readonly byte[] Header = [(byte)'P', (byte)'G', (byte)'C', (byte)'O', (byte)'P', (byte)'Y', (byte)'\n', 0xFF, (byte)'\r', (byte)'\n', 0, 0, 0, 0, 0, 0, 0, 0, 0];

    /// <summary>PostgreSQL's epoch for <c>date</c> and <c>timestamptz</c>.</summary>
    private static readonly DateTime PgEpoch = new(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    private static readonly int PgEpochDayNumber = DateOnly.FromDateTime(PgEpoch).DayNumber;

    private byte[] _buffer;
    private int _length;

    public PgBinaryCopyWriter(int initialCapacity = 64 * 1024)
    {
        _buffer = ArrayPool<byte>.Shared.Rent(initialCapacity);
        Reset();
    }

    /// <summary>The encoded bytes so far (header included; the trailer only after <see cref="Finish"/>).</summary>
    public ReadOnlyMemory<byte> Written => _buffer.AsMemory(0, _length);

    /// <summary>Starts over with a new header.</summary>
    public void Reset()
    {
        _length = 0;
        Header.CopyTo(Reserve(Header.Length));
    }

    /// <summary>Starts a row of <paramref name="fields"/> fields.</summary>
    public void StartRow(short fields) => BinaryPrimitives.WriteInt16BigEndian(Reserve(2), fields);

    /// <summary>Ends the data (the int16 -1 trailer).</summary>
    public void Finish() => BinaryPrimitives.WriteInt16BigEndian(Reserve(2), -1);

    /// <summary>A NULL field.</summary>
    public void Null() => BinaryPrimitives.WriteInt32BigEndian(Reserve(4), -1);

    /// <summary>A <c>text</c> (or <c>char(n)</c>) field: the UTF-8 bytes (Npgsql connects with <c>client_encoding</c> UTF8).</summary>
    public void Text(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var max = Encoding.UTF8.GetMaxByteCount(value.Length);
        var span = Reserve(4 + max);
        var n = Encoding.UTF8.GetBytes(value, span[4..]);
        BinaryPrimitives.WriteInt32BigEndian(span, n);
        _length -= max - n;
    }

    /// <summary>A <c>text</c> field or NULL.</summary>
    public void NullableText(string? value)
    {
        if (value is null)
        {
            Null();
        }
        else
        {
            Text(value);
        }
    }

    /// <summary>An <c>integer</c> field.</summary>
    public void Int32(int value)
    {
        var span = Reserve(8);
        BinaryPrimitives.WriteInt32BigEndian(span, 4);
        BinaryPrimitives.WriteInt32BigEndian(span[4..], value);
    }

    /// <summary>An <c>integer</c> field or NULL.</summary>
    public void NullableInt32(int? value)
    {
        if (value is { } v)
        {
            Int32(v);
        }
        else
        {
            Null();
        }
    }

    /// <summary>A <c>bigint</c> field or NULL.</summary>
    public void NullableInt64(long? value)
    {
        if (value is { } v)
        {
            Int64(v);
        }
        else
        {
            Null();
        }
    }

    /// <summary>A <c>bigint</c> field.</summary>
    public void Int64(long value)
    {
        var span = Reserve(12);
        BinaryPrimitives.WriteInt32BigEndian(span, 8);
        BinaryPrimitives.WriteInt64BigEndian(span[4..], value);
    }

    /// <summary>A <c>date</c> field: days since 2000-01-01.</summary>
    public void Date(DateOnly value) => Int32(value.DayNumber - PgEpochDayNumber);

    /// <summary>A <c>timestamptz</c> field: microseconds since 2000-01-01 00:00:00 UTC (sub-microsecond ticks are truncated, as Npgsql does).</summary>
    public void TimestampTz(DateTimeOffset value)
    {
        var micros = (value.UtcDateTime - PgEpoch).Ticks / TimeSpan.TicksPerMicrosecond;
        var span = Reserve(12);
        BinaryPrimitives.WriteInt32BigEndian(span, 8);
        BinaryPrimitives.WriteInt64BigEndian(span[4..], micros);
    }

    /// <summary>
    /// A <c>numeric</c> field, exact: int16 count of base-10000 digits, int16 weight (power of 10000 of the first digit), int16 sign
    /// (0x0000 positive, 0x4000 negative), int16 display scale (the decimal's scale, so 10.50 stays 10.50), then the digits. The
    /// digits are grouped by four from the decimal point in both directions; leading and trailing zero groups are left out.
    /// </summary>
    public void Numeric(decimal value)
    {
        // The decimal's digits as text, without sign: "12345.6780" (scale kept): at most 29 digits, "0." and the point.
        Span<char> text = stackalloc char[40];
        if (!Math.Abs(value).TryFormat(text, out var written, default, CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException($"Cannot format {value} as a numeric.");
        }

        text = text[..written];
        var point = text.IndexOf('.');
        var integer = point < 0 ? text : text[..point];
        var fraction = point < 0 ? [] : text[(point + 1)..];
        var scale = (short)fraction.Length;

        // Integer groups from the point leftwards, fraction groups from the point rightwards (the last one padded with zeros).
        var integerGroups = (integer.Length + 3) / 4;
        var fractionGroups = (fraction.Length + 3) / 4;
        Span<short> digits = stackalloc short[integerGroups + fractionGroups];
        for (var g = 0; g < integerGroups; g++)
        {
            var end = integer.Length - ((integerGroups - 1 - g) * 4);
            var start = Math.Max(0, end - 4);
            digits[g] = Group(integer[start..end], 0);
        }

        for (var g = 0; g < fractionGroups; g++)
        {
            var start = g * 4;
            var chunk = fraction[start..Math.Min(fraction.Length, start + 4)];
            digits[integerGroups + g] = Group(chunk, 4 - chunk.Length);
        }

        var weight = integerGroups - 1;
        var first = 0;
        while (first < digits.Length && digits[first] == 0)
        {
            first++;
            weight--;
        }

        var last = digits.Length;
        while (last > first && digits[last - 1] == 0)
        {
            last--;
        }

        var used = digits[first..last];
        if (used.IsEmpty)
        {
            weight = 0; // zero: no digits
        }

        var span = Reserve(4 + 8 + (2 * used.Length));
        BinaryPrimitives.WriteInt32BigEndian(span, 8 + (2 * used.Length));
        BinaryPrimitives.WriteInt16BigEndian(span[4..], (short)used.Length);
        BinaryPrimitives.WriteInt16BigEndian(span[6..], (short)weight);
        BinaryPrimitives.WriteInt16BigEndian(span[8..], value < 0m && !used.IsEmpty ? (short)0x4000 : (short)0);
        BinaryPrimitives.WriteInt16BigEndian(span[10..], scale);
        for (var i = 0; i < used.Length; i++)
        {
            BinaryPrimitives.WriteInt16BigEndian(span[(12 + (2 * i))..], used[i]);
        }
    }

    /// <summary>Returns the buffer to the pool.</summary>
    public void Dispose()
    {
        var buffer = _buffer;
        _buffer = [];
        _length = 0;
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Sends the rows (with the trailer) as one binary COPY; a server error (e.g. a unique violation) is thrown from here.</summary>
    public async Task CopyAsync(NpgsqlConnection connection, string copyFromStdinBinary, CancellationToken cancellationToken)
    {
        Finish();
        var stream = await connection.BeginRawBinaryCopyAsync(copyFromStdinBinary, cancellationToken).ConfigureAwait(false);
        try
        {
            await stream.WriteAsync(Written, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            try
            {
                await stream.CancelAsync().ConfigureAwait(false);
                await stream.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception cleanup) when (cleanup is NpgsqlException or IOException or ObjectDisposedException or InvalidOperationException)
            {
                // The connection is already broken (e.g. a stop cancelled the write): the original error is the one to report.
            }

            throw;
        }

        // Disposing completes the COPY: it sends CopyDone and reads the server's answer.
        await stream.DisposeAsync().ConfigureAwait(false);
    }

    private static short Group(ReadOnlySpan<char> chunk, int padZeros)
    {
        var v = 0;
        foreach (var c in chunk)
        {
            v = (v * 10) + (c - '0');
        }

        for (var i = 0; i < padZeros; i++)
        {
            v *= 10;
        }

        return (short)v;
    }

    private Span<byte> Reserve(int bytes)
    {
        if (_length + bytes > _buffer.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _length + bytes));
            _buffer.AsSpan(0, _length).CopyTo(bigger);
            if (_buffer.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
            }

            _buffer = bigger;
        }

        var span = _buffer.AsSpan(_length, bytes);
        _length += bytes;
        return span;
    }
}

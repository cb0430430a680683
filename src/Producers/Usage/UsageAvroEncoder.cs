using System.Buffers.Binary;
using System.Text;
using Confluent.SchemaRegistry;
using Streaming.Contracts;
using Streaming.Contracts.Billing;

namespace Streaming.Producers.Usage;

/// <summary>
/// Writes a <see cref="UsageRecord"/> as a <c>billing.usage.v1</c> value in the Confluent wire format (magic byte 0,
/// 4-byte big-endian schema id, Avro binary of <see cref="UsageEvent"/>) straight into a byte array: no
/// <c>AvroDecimal</c>/<c>BigInteger</c>, no generic datum writer, one allocation per record (the result; each string is
/// transcoded once into a reused per-thread buffer). The output is
/// byte-for-byte what Confluent's <c>AvroSerializer&lt;UsageEvent&gt;</c> writes for the same values (tested), so
/// every Confluent deserializer reads it. It is bound to the field order of <c>schemas/billing/usage.avsc</c>; a test
/// fails if the schema changes under it.
/// </summary>
public sealed class UsageAvroEncoder
{
    /// <summary>Scale of the <c>quantity</c> field (Avro decimal(18,6)).</summary>
    public const int QuantityScale = Money.QuantityScale;

    private const long QuantityFactor = 1_000_000;
    private const long MaxUnscaledExclusive = 1_000_000_000_000_000_000; // 10^18: precision 18

    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Creates an encoder that frames values with <paramref name="schemaId"/>.</summary>
    public UsageAvroEncoder(int schemaId)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(schemaId);
        SchemaId = schemaId;
    }

    /// <summary>The registry id written after the magic byte.</summary>
    public int SchemaId { get; }

    /// <summary>
    /// Looks up the id under which the registry knows this build's <see cref="UsageEvent"/> schema in the topic's value
    /// subject, the way the Confluent serializer does with auto-registration off: an unregistered schema fails here, at
    /// start, not at the first record.
    /// </summary>
    public static async Task<UsageAvroEncoder> CreateAsync(ISchemaRegistryClient registry, string topic = Topics.BillingUsage, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(registry);
        cancellationToken.ThrowIfCancellationRequested();
        var subject = Topics.ValueSubject(topic);
        RegisteredSchema registered;
        try
        {
            registered = await registry.LookupSchemaAsync(subject, new Schema(UsageEvent._SCHEMA.ToString(), SchemaType.Avro), ignoreDeletedSchemas: true, normalize: false)
                .ConfigureAwait(false);
        }
        catch (SchemaRegistryException ex)
        {
            throw new InvalidOperationException($"The UsageEvent schema is not registered under subject '{subject}' ({ex.Message}); register schemas/ first (`streaming up` does).", ex);
        }

        return new UsageAvroEncoder(registered.Id);
    }

    /// <summary>
    /// The unscaled value of <paramref name="quantity"/> at scale 6, or false when it has more than 6 digits after the
    /// point (it would have to be rounded) or more than 12 before it.
    /// </summary>
    public static bool TryGetUnscaledQuantity(decimal quantity, out long unscaled)
    {
        unscaled = 0;
        decimal scaled;
        try
        {
            scaled = quantity * QuantityFactor;
        }
        catch (OverflowException)
        {
            return false;
        }

        if (scaled != decimal.Truncate(scaled) || scaled >= MaxUnscaledExclusive || scaled <= -MaxUnscaledExclusive)
        {
            return false;
        }

        unscaled = (long)scaled;
        return true;
    }

    /// <summary>Encodes one record (magic byte + schema id + Avro body) into a new array of exactly its size.</summary>
    /// <exception cref="ArgumentException">A required string is null, or the quantity does not fit decimal(18,6).</exception>
    public byte[] Encode(in UsageRecord record)
    {
        if (!TryGetUnscaledQuantity(record.Quantity, out var unscaled))
        {
            throw new ArgumentException($"quantity {record.Quantity} does not fit Avro decimal(18,6): at most 6 digits after the point and 12 before it.", nameof(record));
        }

        // One pass into a per-thread scratch buffer sized for the worst case (3 UTF-8 bytes per UTF-16 char), then one
        // copy of exactly the bytes written: each string is transcoded once, not counted and then transcoded.
        var bound = 5 + MaxStringSize(record.UsageEventId) + MaxStringSize(record.SubscriptionItemId) + MaxStringSize(record.CustomerId)
            + MaxStringSize(record.Meter) + 9 + 10 + 10 + MaxStringSize(record.Source) + MaxMapSize(record.Attributes);
        var scratch = t_scratch is { } cached && cached.Length >= bound ? cached : NewScratch(bound);
        var span = scratch.AsSpan();
        span[0] = 0;
        BinaryPrimitives.WriteInt32BigEndian(span[1..], SchemaId);
        var at = 5;
        at += WriteString(span[at..], record.UsageEventId, nameof(UsageRecord.UsageEventId));
        at += WriteString(span[at..], record.SubscriptionItemId, nameof(UsageRecord.SubscriptionItemId));
        at += WriteString(span[at..], record.CustomerId, nameof(UsageRecord.CustomerId));
        at += WriteString(span[at..], record.Meter, nameof(UsageRecord.Meter));
        at += WriteDecimal(span[at..], unscaled);
        at += WriteLong(span[at..], record.OccurredAt.ToUnixTimeMilliseconds());
        at += WriteLong(span[at..], record.ReceivedAt.ToUnixTimeMilliseconds());
        at += WriteString(span[at..], record.Source, nameof(UsageRecord.Source));
        at += WriteMap(span[at..], record.Attributes);
        return span[..at].ToArray();
    }

    [ThreadStatic]
    private static byte[]? t_scratch;

    private const int MaxCachedScratch = 64 * 1024;

    private static byte[] NewScratch(int bound)
    {
        var scratch = new byte[Math.Max(bound, 1024)];
        // A rare huge record gets a buffer of its own; the cached one stays small.
        if (scratch.Length <= MaxCachedScratch)
        {
            t_scratch = scratch;
        }

        return scratch;
    }

    // Null is refused by WriteString, naming the field; here it only must not break the bound.
    private static int MaxStringSize(string? value) => value is null ? 0 : LongSize(3L * value.Length) + (3 * value.Length);

    private static int MaxMapSize(IReadOnlyDictionary<string, string>? map)
    {
        if (map is null || map.Count == 0)
        {
            return 1;
        }

        var size = LongSize(map.Count) + 1;
        if (map is Dictionary<string, string> dictionary)
        {
            // The struct enumerator: no boxed enumerator per record on the common path.
            foreach (var (key, value) in dictionary)
            {
                size += MaxStringSize(key) + MaxStringSize(value);
            }

            return size;
        }

        foreach (var (key, value) in map)
        {
            size += MaxStringSize(key) + MaxStringSize(value);
        }

        return size;
    }

    // Avro maps are written as one block (count, then pairs) and a zero count, as Apache.Avro's encoder does.
    private static int WriteMap(Span<byte> span, IReadOnlyDictionary<string, string>? map)
    {
        if (map is null || map.Count == 0)
        {
            span[0] = 0;
            return 1;
        }

        var at = WriteLong(span, map.Count);
        if (map is Dictionary<string, string> dictionary)
        {
            foreach (var (key, value) in dictionary)
            {
                at += WriteString(span[at..], key, "attributes key");
                at += WriteString(span[at..], value, "attributes value");
            }
        }
        else
        {
            foreach (var (key, value) in map)
            {
                at += WriteString(span[at..], key, "attributes key");
                at += WriteString(span[at..], value, "attributes value");
            }
        }

        span[at] = 0;
        return at + 1;
    }

    // Zig-zag length, then UTF-8. The bytes are transcoded once, after room for the longest possible length prefix; when
    // the actual prefix is shorter (only for strings of 22+ chars), they are moved down to follow it.
    private static int WriteString(Span<byte> span, string? value, string field)
    {
        if (value is null)
        {
            throw new ArgumentException($"{field} is required.", field);
        }

        var reserved = LongSize(3L * value.Length);
        var bytes = Utf8.GetBytes(value, span[reserved..]);
        var prefix = LongSize(bytes);
        if (prefix != reserved)
        {
            span.Slice(reserved, bytes).CopyTo(span[prefix..]);
        }

        WriteLong(span, bytes);
        return prefix + bytes;
    }

    // Avro decimal on bytes: the unscaled value as minimal big-endian two's complement (what BigInteger.ToByteArray gives, reversed).
    private static int WriteDecimal(Span<byte> span, long unscaled)
    {
        var n = TwosComplementLength(unscaled);
        var at = WriteLong(span, n);
        for (var i = n - 1; i >= 0; i--)
        {
            span[at++] = (byte)(unscaled >> (8 * i));
        }

        return at;
    }

    private static int TwosComplementLength(long value)
    {
        for (var n = 1; n < 8; n++)
        {
            var limit = 1L << ((8 * n) - 1);
            if (value >= -limit && value < limit)
            {
                return n;
            }
        }

        return 8;
    }

    private static int LongSize(long value)
    {
        var z = (ulong)((value << 1) ^ (value >> 63));
        var n = 1;
        while (z >= 0x80)
        {
            z >>= 7;
            n++;
        }

        return n;
    }

    private static int WriteLong(Span<byte> span, long value)
    {
        var z = (ulong)((value << 1) ^ (value >> 63));
        var at = 0;
        while (z >= 0x80)
        {
            span[at++] = (byte)(z | 0x80);
            z >>= 7;
        }

        span[at++] = (byte)z;
        return at;
    }
}

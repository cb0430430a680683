using System.Buffers.Binary;
using System.Text;
using Confluent.SchemaRegistry;
using Streaming.Contracts;
using Streaming.Contracts.Billing;

namespace Streaming.Producers.Usage;

/// <summary>
/// Writes a <see cref="UsageRecord"/> as a <c>billing.usage.v1</c> value in the Confluent wire format (magic byte 0,
/// 4-byte big-endian schema id, Avro binary of <see cref="UsageEvent"/>) straight into a byte array: no
/// <c>AvroDecimal</c>/<c>BigInteger</c>, no generic datum writer, one allocation per record. The output is
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

        var size = 5
            + StringSize(record.UsageEventId, nameof(UsageRecord.UsageEventId))
            + StringSize(record.SubscriptionItemId, nameof(UsageRecord.SubscriptionItemId))
            + StringSize(record.CustomerId, nameof(UsageRecord.CustomerId))
            + StringSize(record.Meter, nameof(UsageRecord.Meter))
            + DecimalSize(unscaled)
            + LongSize(record.OccurredAt.ToUnixTimeMilliseconds())
            + LongSize(record.ReceivedAt.ToUnixTimeMilliseconds())
            + StringSize(record.Source, nameof(UsageRecord.Source))
            + MapSize(record.Attributes);
        var buffer = new byte[size];
        var span = buffer.AsSpan();
        span[0] = 0;
        BinaryPrimitives.WriteInt32BigEndian(span[1..], SchemaId);
        var at = 5;
        at += WriteString(span[at..], record.UsageEventId);
        at += WriteString(span[at..], record.SubscriptionItemId);
        at += WriteString(span[at..], record.CustomerId);
        at += WriteString(span[at..], record.Meter);
        at += WriteDecimal(span[at..], unscaled);
        at += WriteLong(span[at..], record.OccurredAt.ToUnixTimeMilliseconds());
        at += WriteLong(span[at..], record.ReceivedAt.ToUnixTimeMilliseconds());
        at += WriteString(span[at..], record.Source);
        at += WriteMap(span[at..], record.Attributes);
        return at == size ? buffer : throw new InvalidOperationException($"UsageAvroEncoder wrote {at} bytes, sized {size}.");
    }

    private static int StringSize(string? value, string field)
    {
        if (value is null)
        {
            throw new ArgumentException($"{field} is required.", field);
        }

        var bytes = Utf8.GetByteCount(value);
        return LongSize(bytes) + bytes;
    }

    private static int MapSize(IReadOnlyDictionary<string, string>? map)
    {
        if (map is null || map.Count == 0)
        {
            return 1; // end-of-map marker
        }

        var size = LongSize(map.Count) + 1;
        if (map is Dictionary<string, string> dictionary)
        {
            // The struct enumerator: no boxed enumerator per record on the common path.
            foreach (var (key, value) in dictionary)
            {
                size += StringSize(key, "attributes key") + StringSize(value, "attributes value");
            }

            return size;
        }

        foreach (var (key, value) in map)
        {
            size += StringSize(key, "attributes key") + StringSize(value, "attributes value");
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
                at += WriteString(span[at..], key);
                at += WriteString(span[at..], value);
            }
        }
        else
        {
            foreach (var (key, value) in map)
            {
                at += WriteString(span[at..], key);
                at += WriteString(span[at..], value);
            }
        }

        span[at] = 0;
        return at + 1;
    }

    private static int WriteString(Span<byte> span, string value)
    {
        var bytes = Utf8.GetByteCount(value);
        var at = WriteLong(span, bytes);
        return at + Utf8.GetBytes(value, span[at..]);
    }

    // Avro decimal on bytes: the unscaled value as minimal big-endian two's complement (what BigInteger.ToByteArray gives, reversed).
    private static int DecimalSize(long unscaled)
    {
        var n = TwosComplementLength(unscaled);
        return LongSize(n) + n;
    }

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

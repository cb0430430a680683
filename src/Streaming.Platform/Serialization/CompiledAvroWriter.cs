using System.Numerics;
using System.Reflection;
using System.Text;
using Avro;

namespace Streaming.Platform.Serialization;

/// <summary>
/// An encoder for one generated Avro contract with its own schema, the counterpart of <see cref="CompiledAvroReader{T}"/>:
/// typed field writers built once, reading the generated properties directly, where Apache.Avro's writer boxes every
/// field through the record's <c>Get(int)</c>. Writes exactly Avro's bytes (tested against Confluent's serializer):
/// decimals of the schema's scale as their minimal big-endian two's complement (any other scale goes through Avro's
/// own conversion), timestamps and dates through Avro's logical-type conversion, enums by symbol name.
/// </summary>
public sealed class CompiledAvroWriter<T>
    where T : class
{
    private readonly Action<AvroOutput, T> _write;

    private CompiledAvroWriter(Action<AvroOutput, T> write) => _write = write;

    /// <summary>A writer for <paramref name="schema"/> (the schema of <typeparamref name="T"/>), or null when the schema uses something it does not support.</summary>
    public static CompiledAvroWriter<T>? TryCreate(Schema schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        return CompiledAvroWrite.Writer(schema, typeof(T)) is Action<AvroOutput, T> write ? new CompiledAvroWriter<T>(write) : null;
    }

    /// <summary><paramref name="prefix"/> followed by <paramref name="value"/> in Avro binary.</summary>
    /// <exception cref="AvroException">A non-nullable field is null, or an enum value has no symbol.</exception>
    public byte[] Write(T value, ReadOnlySpan<byte> prefix)
    {
        // One growing buffer per thread, reused: only the result is allocated per record.
        var output = t_output ??= new AvroOutput(1024);
        output.Clear();
        output.WriteRaw(prefix);
        _write(output, value);
        return output.ToArray();
    }

    [ThreadStatic]
    private static AvroOutput? t_output;
}

/// <summary>Avro binary output into a growing buffer.</summary>
public sealed class AvroOutput(int capacity)
{
    private byte[] _buffer = new byte[capacity];
    private int _length;

    /// <summary>An Avro <c>long</c> (zig-zag varint).</summary>
    public void WriteLong(long value)
    {
        Ensure(10);
        var n = (ulong)((value << 1) ^ (value >> 63));
        while (n >= 0x80)
        {
            _buffer[_length++] = (byte)(n | 0x80);
            n >>= 7;
        }

        _buffer[_length++] = (byte)n;
    }

    /// <summary>An Avro <c>int</c>.</summary>
    public void WriteInt(int value) => WriteLong(value);

    /// <summary>An Avro <c>boolean</c>.</summary>
    public void WriteBoolean(bool value) => WriteRaw([value ? (byte)1 : (byte)0]);

    /// <summary>An Avro <c>float</c>.</summary>
    public void WriteFloat(float value)
    {
        Span<byte> bytes = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(bytes, BitConverter.SingleToInt32Bits(value));
        WriteRaw(bytes);
    }

    /// <summary>An Avro <c>double</c>.</summary>
    public void WriteDouble(double value)
    {
        Span<byte> bytes = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(bytes, BitConverter.DoubleToInt64Bits(value));
        WriteRaw(bytes);
    }

    /// <summary>An Avro <c>string</c> (UTF-8, length first).</summary>
    public void WriteString(string value)
    {
        var count = Encoding.UTF8.GetByteCount(value);
        WriteLong(count);
        Ensure(count);
        _length += Encoding.UTF8.GetBytes(value, _buffer.AsSpan(_length));
    }

    /// <summary>Avro <c>bytes</c> (length first).</summary>
    public void WriteBytes(ReadOnlySpan<byte> value)
    {
        WriteLong(value.Length);
        WriteRaw(value);
    }

    /// <summary>An unscaled decimal value as Avro <c>bytes</c>: minimal big-endian two's complement.</summary>
    public void WriteUnscaled(BigInteger unscaled)
    {
        var count = unscaled.GetByteCount(isUnsigned: false);
        WriteLong(count);
        Ensure(count);
        unscaled.TryWriteBytes(_buffer.AsSpan(_length, count), out var written, isUnsigned: false, isBigEndian: true);
        _length += written;
    }

    /// <summary>Bytes as they are.</summary>
    public void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }

    /// <summary>Starts again at the beginning of the buffer.</summary>
    public void Clear() => _length = 0;

    /// <summary>What was written.</summary>
    public byte[] ToArray() => _buffer.AsSpan(0, _length).ToArray();

    private void Ensure(int count)
    {
        if (_length + count > _buffer.Length)
        {
            System.Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + count));
        }
    }
}

/// <summary>Builds the typed writers of <see cref="CompiledAvroWriter{T}"/>.</summary>
internal static class CompiledAvroWrite
{
    private static readonly MethodInfo RecordMethod = Method(nameof(Record));
    private static readonly MethodInfo ArrayMethod = Method(nameof(Array));
    private static readonly MethodInfo NullableValueMethod = Method(nameof(NullableValue));
    private static readonly MethodInfo NullableRefMethod = Method(nameof(NullableRef));
    private static readonly MethodInfo EnumMethod = Method(nameof(Enum));
    private static readonly MethodInfo LogicalMethod = Method(nameof(Logical));
    private static readonly MethodInfo GetterMethod = Method(nameof(Getter));

    private static MethodInfo Method(string name) => typeof(CompiledAvroWrite).GetMethod(name, BindingFlags.NonPublic | BindingFlags.Static)!;

    /// <summary>An <c>Action&lt;AvroOutput, type&gt;</c> for <paramref name="schema"/>, or null when unsupported.</summary>
    public static Delegate? Writer(Schema schema, Type type) => CompiledAvro.OrNull(Build, schema, type);

    private static Delegate Build(Schema schema, Type type)
    {
        switch (schema)
        {
            case LogicalSchema logical when logical.LogicalTypeName == "decimal" && logical.BaseSchema.Tag == Schema.Type.Bytes && type == typeof(AvroDecimal):
                var scale = int.Parse(logical.GetProperty("scale") ?? "0", System.Globalization.CultureInfo.InvariantCulture);
                return new Action<AvroOutput, AvroDecimal>((output, value) =>
                {
                    if (value.Scale == scale)
                    {
                        output.WriteUnscaled(value.UnscaledValue);
                    }
                    else
                    {
                        output.WriteBytes((byte[])logical.LogicalType.ConvertToBaseValue(value, logical)); // Avro's own handling of another scale
                    }
                });
            case LogicalSchema logical when logical.LogicalTypeName != "decimal" && logical.BaseSchema.Tag is Schema.Type.Int or Schema.Type.Long
                                            && logical.LogicalType.GetCSharpType(false) == type:
                return CompiledAvro.Call(LogicalMethod.MakeGenericMethod(type), [logical]);
            case LogicalSchema:
                throw new NotSupportedException();
            case RecordSchema record:
                return CompiledAvro.GuardedRecord(record, () => CompiledAvro.Call(RecordMethod.MakeGenericMethod(type), [record]));
            case ArraySchema array when type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IList<>):
                var item = type.GetGenericArguments()[0];
                return CompiledAvro.Call(ArrayMethod.MakeGenericMethod(item), [Build(array.ItemSchema, item)]);
            case UnionSchema { Count: 2 } union when union.Schemas.Count(s => s.Tag == Schema.Type.Null) == 1:
                var nullIndex = union.Schemas[0].Tag == Schema.Type.Null ? 0 : 1;
                var other = union.Schemas[1 - nullIndex];
                if (Nullable.GetUnderlyingType(type) is { } underlying)
                {
                    return CompiledAvro.Call(NullableValueMethod.MakeGenericMethod(underlying), [nullIndex, Build(other, underlying)]);
                }

                return type.IsValueType
                    ? throw new NotSupportedException()
                    : CompiledAvro.Call(NullableRefMethod.MakeGenericMethod(type), [nullIndex, Build(other, type)]);
            case EnumSchema e when type.IsEnum:
                return CompiledAvro.Call(EnumMethod.MakeGenericMethod(type), [e]);
            case PrimitiveSchema p:
                return Primitive(p.Tag, type);
            default:
                throw new NotSupportedException();
        }
    }

    private static Delegate Primitive(Schema.Type tag, Type type) => (tag, type) switch
    {
        (Schema.Type.String, _) when type == typeof(string) => new Action<AvroOutput, string>((o, v) => o.WriteString(v ?? throw Null("string"))),
        (Schema.Type.Bytes, _) when type == typeof(byte[]) => new Action<AvroOutput, byte[]>((o, v) => o.WriteBytes(v ?? throw Null("bytes"))),
        (Schema.Type.Int, _) when type == typeof(int) => new Action<AvroOutput, int>((o, v) => o.WriteInt(v)),
        (Schema.Type.Long, _) when type == typeof(long) => new Action<AvroOutput, long>((o, v) => o.WriteLong(v)),
        (Schema.Type.Boolean, _) when type == typeof(bool) => new Action<AvroOutput, bool>((o, v) => o.WriteBoolean(v)),
        (Schema.Type.Float, _) when type == typeof(float) => new Action<AvroOutput, float>((o, v) => o.WriteFloat(v)),
        (Schema.Type.Double, _) when type == typeof(double) => new Action<AvroOutput, double>((o, v) => o.WriteDouble(v)),
        _ => throw new NotSupportedException(),
    };

    private static AvroException Null(string what) => new($"null value for a non-nullable {what}");

    private static Action<AvroOutput, TRecord> Record<TRecord>(RecordSchema schema)
        where TRecord : class
    {
        var fields = schema.Fields.Select(f =>
        {
            var property = typeof(TRecord).GetProperty(f.Name, BindingFlags.Public | BindingFlags.Instance);
            return property?.GetMethod is null
                ? throw new NotSupportedException()
                : (Action<AvroOutput, TRecord>)CompiledAvro.Call(GetterMethod.MakeGenericMethod(typeof(TRecord), property.PropertyType), [property.GetMethod, Build(f.Schema, property.PropertyType)]);
        }).ToArray();
        return (output, record) =>
        {
            if (record is null)
            {
                throw Null(schema.Fullname);
            }

            foreach (var field in fields)
            {
                field(output, record);
            }
        };
    }

    private static Action<AvroOutput, TRecord> Getter<TRecord, TValue>(MethodInfo getMethod, Delegate write)
    {
        var get = getMethod.CreateDelegate<Func<TRecord, TValue>>();
        var typed = (Action<AvroOutput, TValue>)write;
        return (output, record) => typed(output, get(record));
    }

    // One block with the item count, then the end marker (what Avro's BinaryEncoder writes).
    private static Action<AvroOutput, IList<TItem>> Array<TItem>(Action<AvroOutput, TItem> item)
        => (output, list) =>
        {
            if (list is null)
            {
                throw Null("array");
            }

            if (list.Count > 0)
            {
                output.WriteLong(list.Count);
                for (var i = 0; i < list.Count; i++)
                {
                    item(output, list[i]);
                }
            }

            output.WriteLong(0);
        };

    private static Action<AvroOutput, TValue?> NullableValue<TValue>(int nullIndex, Action<AvroOutput, TValue> value)
        where TValue : struct
        => (output, v) =>
        {
            output.WriteLong(v is null ? nullIndex : 1 - nullIndex);
            if (v is { } present)
            {
                value(output, present);
            }
        };

    private static Action<AvroOutput, TValue?> NullableRef<TValue>(int nullIndex, Action<AvroOutput, TValue> value)
        where TValue : class
        => (output, v) =>
        {
            output.WriteLong(v is null ? nullIndex : 1 - nullIndex);
            if (v is not null)
            {
                value(output, v);
            }
        };

    private static Action<AvroOutput, TEnum> Enum<TEnum>(EnumSchema schema)
        where TEnum : struct, System.Enum
    {
        var ordinals = System.Enum.GetValues<TEnum>().ToDictionary(v => v, v => schema.Contains(v.ToString()) ? schema.Ordinal(v.ToString()) : -1);
        return (output, v) => output.WriteInt(ordinals.TryGetValue(v, out var o) && o >= 0 ? o : throw new AvroException($"Unknown enum symbol {v} for {schema.Fullname}"));
    }

    // Timestamps, dates, times: Avro's own conversion to the base value.
    private static Action<AvroOutput, TValue> Logical<TValue>(LogicalSchema schema)
    {
        var type = schema.LogicalType;
        return schema.BaseSchema.Tag == Schema.Type.Int
            ? (output, v) => output.WriteInt((int)type.ConvertToBaseValue(v!, schema))
            : (output, v) => output.WriteLong((long)type.ConvertToBaseValue(v!, schema));
    }
}

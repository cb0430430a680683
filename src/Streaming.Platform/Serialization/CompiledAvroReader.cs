using System.Numerics;
using System.Reflection;
using System.Text;
using Avro;

namespace Streaming.Platform.Serialization;

/// <summary>
/// A decoder for one generated Avro contract whose records were written with exactly its own schema: a tree of typed
/// field readers built once from the schema, setting the generated properties directly. Apache.Avro's readers box
/// every field value, call the record's <c>Put(int, object)</c>, and decode decimals through a reversed byte copy;
/// this one does none of that and produces the same values (the same decimal unscaled value and scale; timestamps and
/// dates through Avro's own logical-type conversion). Only for a writer schema identical to the reader schema — there
/// is nothing to resolve — so <see cref="ContractAvro{T}"/> (behind <c>AvroWireCodec</c> and the processors' Streamiz serdes) uses it only for records framed with the schema id of
/// the contract's own schema and keeps Avro's resolving reader for any other writer schema.
/// </summary>
/// <remarks>
/// Supported: records, arrays, unions of null and one other type, enums, strings, bytes, int, long, float, double,
/// boolean, decimal on bytes, and the other logical types on int/long. A schema with anything else (maps, fixed,
/// other unions) gets no compiled reader (<see cref="TryCreate"/> returns null) and is decoded by Avro.
/// </remarks>
public sealed class CompiledAvroReader<T>
    where T : class
{
    private readonly Func<AvroInput, T> _read;

    private CompiledAvroReader(Func<AvroInput, T> read) => _read = read;

    /// <summary>A reader for <paramref name="schema"/> (the schema of <typeparamref name="T"/>), or null when the schema uses something it does not support.</summary>
    public static CompiledAvroReader<T>? TryCreate(Schema schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        return CompiledAvro.Reader(schema, typeof(T)) is Func<AvroInput, T> read ? new CompiledAvroReader<T>(read) : null;
    }

    /// <summary>Decodes one record from <paramref name="data"/> starting at <paramref name="offset"/>.</summary>
    /// <exception cref="AvroException">The data ends early or holds an index out of range.</exception>
    public T Read(byte[] data, int offset) => _read(new AvroInput(data, offset));
}

/// <summary>Avro binary input over a byte array (zig-zag varints, length-prefixed strings and bytes).</summary>
public sealed class AvroInput(byte[] data, int offset)
{
    private int _position = offset;

    /// <summary>An Avro <c>long</c>.</summary>
    public long ReadLong()
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            var b = Next();
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return (long)(value >> 1) ^ -(long)(value & 1);
            }
        }

        throw new AvroException("Invalid Avro long: more than 10 bytes");
    }

    /// <summary>An Avro <c>int</c>.</summary>
    public int ReadInt()
    {
        var value = ReadLong();
        return value is < int.MinValue or > int.MaxValue ? throw new AvroException($"Invalid Avro int: {value} is out of range") : (int)value;
    }

    /// <summary>An Avro <c>boolean</c>.</summary>
    public bool ReadBoolean() => Next() switch
    {
        0 => false,
        1 => true,
        var b => throw new AvroException($"Invalid Avro boolean byte {b}"),
    };

    /// <summary>An Avro <c>float</c>.</summary>
    public float ReadFloat() => BitConverter.Int32BitsToSingle(System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(Take(4)));

    /// <summary>An Avro <c>double</c>.</summary>
    public double ReadDouble() => BitConverter.Int64BitsToDouble(System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(Take(8)));

    /// <summary>An Avro <c>string</c> (UTF-8).</summary>
    public string ReadString() => Encoding.UTF8.GetString(Take(Length()));

    /// <summary>Avro <c>bytes</c>.</summary>
    public byte[] ReadBytes() => Take(Length()).ToArray();

    /// <summary>A decimal logical value on <c>bytes</c>: big-endian two's complement unscaled value.</summary>
    public AvroDecimal ReadDecimal(int scale) => new(new BigInteger(Take(Length()), isUnsigned: false, isBigEndian: true), scale);

    private int Length()
    {
        var length = ReadLong();
        return length < 0 || length > data.Length - _position
            ? throw new AvroException($"Invalid Avro length {length} at byte {_position} of {data.Length}")
            : (int)length;
    }

    private byte Next() => _position < data.Length ? data[_position++] : throw new AvroException("End of stream reached");

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count > data.Length - _position)
        {
            throw new AvroException("End of stream reached");
        }

        var span = data.AsSpan(_position, count);
        _position += count;
        return span;
    }
}

/// <summary>Builds the typed readers of <see cref="CompiledAvroReader{T}"/>.</summary>
internal static class CompiledAvro
{
    private static readonly MethodInfo RecordMethod = Method(nameof(Record));
    private static readonly MethodInfo ArrayMethod = Method(nameof(Array));
    private static readonly MethodInfo NullableValueMethod = Method(nameof(NullableValue));
    private static readonly MethodInfo NullableRefMethod = Method(nameof(NullableRef));
    private static readonly MethodInfo EnumMethod = Method(nameof(Enum));
    private static readonly MethodInfo LogicalMethod = Method(nameof(Logical));
    private static readonly MethodInfo SetterMethod = Method(nameof(Setter));

    private static MethodInfo Method(string name) => typeof(CompiledAvro).GetMethod(name, BindingFlags.NonPublic | BindingFlags.Static)!;

    /// <summary>A <c>Func&lt;AvroInput, type&gt;</c> for <paramref name="schema"/>, or null when unsupported.</summary>
    public static Delegate? Reader(Schema schema, Type type) => OrNull(Build, schema, type);

    /// <summary>
    /// <paramref name="build"/>'s codec for <paramref name="schema"/>, or null when any part of the schema is unsupported
    /// (a builder throws <see cref="NotSupportedException"/>); shared by the reader and writer builders.
    /// </summary>
    internal static Delegate? OrNull(Func<Schema, Type, Delegate> build, Schema schema, Type type)
    {
        try
        {
            return build(schema, type);
        }
        catch (NotSupportedException)
        {
            return null;
        }
    }

    /// <summary>
    /// <paramref name="build"/> for <paramref name="record"/>, refusing (<see cref="NotSupportedException"/>) a record that contains
    /// itself, directly or through arrays/unions: building it would recurse without end, so it is left to Avro.
    /// </summary>
    internal static Delegate GuardedRecord(RecordSchema record, Func<Delegate> build)
    {
        var building = t_building ??= new HashSet<string>(StringComparer.Ordinal);
        if (!building.Add(record.Fullname))
        {
            throw new NotSupportedException();
        }

        try
        {
            return build();
        }
        finally
        {
            building.Remove(record.Fullname);
        }
    }

    /// <summary>The records whose codecs are being built on this thread (recursion guard of <see cref="GuardedRecord"/>).</summary>
    [ThreadStatic]
    private static HashSet<string>? t_building;

    private static Delegate Build(Schema schema, Type type)
    {
        switch (schema)
        {
            case LogicalSchema logical when logical.LogicalTypeName == "decimal" && logical.BaseSchema.Tag == Schema.Type.Bytes && type == typeof(AvroDecimal):
                var scale = int.Parse(logical.GetProperty("scale") ?? "0", System.Globalization.CultureInfo.InvariantCulture);
                return new Func<AvroInput, AvroDecimal>(input => input.ReadDecimal(scale));
            case LogicalSchema logical when logical.LogicalTypeName != "decimal" && logical.BaseSchema.Tag is Schema.Type.Int or Schema.Type.Long
                                            && logical.LogicalType.GetCSharpType(false) == type:
                return Call(LogicalMethod.MakeGenericMethod(type), [logical]);
            case LogicalSchema:
                throw new NotSupportedException();
            case RecordSchema record:
                return GuardedRecord(record, () => Call(RecordMethod.MakeGenericMethod(type), [record]));
            case ArraySchema array when type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IList<>):
                var item = type.GetGenericArguments()[0];
                return Call(ArrayMethod.MakeGenericMethod(item), [Build(array.ItemSchema, item)]);
            case UnionSchema { Count: 2 } union when union.Schemas.Count(s => s.Tag == Schema.Type.Null) == 1:
                var nullIndex = union.Schemas[0].Tag == Schema.Type.Null ? 0 : 1;
                var other = union.Schemas[1 - nullIndex];
                if (Nullable.GetUnderlyingType(type) is { } underlying)
                {
                    return Call(NullableValueMethod.MakeGenericMethod(underlying), [nullIndex, Build(other, underlying)]);
                }

                return type.IsValueType
                    ? throw new NotSupportedException()
                    : Call(NullableRefMethod.MakeGenericMethod(type), [nullIndex, Build(other, type)]);
            case EnumSchema e when type.IsEnum:
                return Call(EnumMethod.MakeGenericMethod(type), [e]);
            case PrimitiveSchema p:
                return Primitive(p.Tag, type);
            default:
                throw new NotSupportedException();
        }
    }

    // A builder method, with its NotSupportedException (any unsupported part of the schema) not wrapped by reflection.
    internal static Delegate Call(MethodInfo method, object[] arguments)
    {
        try
        {
            return (Delegate)method.Invoke(null, arguments)!;
        }
        catch (TargetInvocationException ex) when (ex.InnerException is NotSupportedException inner)
        {
            throw inner;
        }
    }

    private static Delegate Primitive(Schema.Type tag, Type type) => (tag, type) switch
    {
        (Schema.Type.String, _) when type == typeof(string) => new Func<AvroInput, string>(i => i.ReadString()),
        (Schema.Type.Bytes, _) when type == typeof(byte[]) => new Func<AvroInput, byte[]>(i => i.ReadBytes()),
        (Schema.Type.Int, _) when type == typeof(int) => new Func<AvroInput, int>(i => i.ReadInt()),
        (Schema.Type.Long, _) when type == typeof(long) => new Func<AvroInput, long>(i => i.ReadLong()),
        (Schema.Type.Boolean, _) when type == typeof(bool) => new Func<AvroInput, bool>(i => i.ReadBoolean()),
        (Schema.Type.Float, _) when type == typeof(float) => new Func<AvroInput, float>(i => i.ReadFloat()),
        (Schema.Type.Double, _) when type == typeof(double) => new Func<AvroInput, double>(i => i.ReadDouble()),
        _ => throw new NotSupportedException(),
    };

    private static Func<AvroInput, TRecord> Record<TRecord>(RecordSchema schema)
        where TRecord : class
    {
        if (typeof(TRecord).GetConstructor(Type.EmptyTypes) is null)
        {
            throw new NotSupportedException();
        }

        var fields = schema.Fields.Select(f =>
        {
            var property = typeof(TRecord).GetProperty(f.Name, BindingFlags.Public | BindingFlags.Instance);
            if (property?.SetMethod is null)
            {
                throw new NotSupportedException();
            }

            return (Action<AvroInput, TRecord>)Call(SetterMethod.MakeGenericMethod(typeof(TRecord), property.PropertyType), [property.SetMethod, Build(f.Schema, property.PropertyType)]);
        }).ToArray();
        return input =>
        {
            var record = Activator.CreateInstance<TRecord>();
            foreach (var field in fields)
            {
                field(input, record);
            }

            return record;
        };
    }

    private static Action<AvroInput, TRecord> Setter<TRecord, TValue>(MethodInfo setMethod, Delegate read)
    {
        var set = setMethod.CreateDelegate<Action<TRecord, TValue>>();
        var typed = (Func<AvroInput, TValue>)read;
        return (input, record) => set(record, typed(input));
    }

    // Blocks of items; a negative count is followed by the block's size in bytes (Avro spec).
    private static Func<AvroInput, IList<TItem>> Array<TItem>(Func<AvroInput, TItem> item)
        => input =>
        {
            var list = new List<TItem>();
            for (var count = input.ReadLong(); count != 0; count = input.ReadLong())
            {
                if (count < 0)
                {
                    count = -count;
                    input.ReadLong();
                }

                for (var i = 0L; i < count; i++)
                {
                    list.Add(item(input));
                }
            }

            return list;
        };

    private static Func<AvroInput, TValue?> NullableValue<TValue>(int nullIndex, Func<AvroInput, TValue> value)
        where TValue : struct
        => input => Branch(input) == nullIndex ? null : value(input);

    private static Func<AvroInput, TValue?> NullableRef<TValue>(int nullIndex, Func<AvroInput, TValue> value)
        where TValue : class
        => input => Branch(input) == nullIndex ? null : value(input);

    private static long Branch(AvroInput input)
    {
        var index = input.ReadLong();
        return index is 0 or 1 ? index : throw new AvroException($"Invalid union branch {index} of a 2-branch union");
    }

    private static Func<AvroInput, TEnum> Enum<TEnum>(EnumSchema schema)
        where TEnum : struct, System.Enum
    {
        var values = schema.Symbols.Select(s => System.Enum.TryParse<TEnum>(s, out var v) ? v : throw new NotSupportedException()).ToArray();
        return input =>
        {
            var index = input.ReadInt();
            return (uint)index < (uint)values.Length ? values[index] : throw new AvroException($"Invalid enum index {index} for {schema.Fullname}");
        };
    }

    // Timestamps, dates, times: Avro's own conversion of the base value, so the value is exactly Avro's.
    private static Func<AvroInput, TValue> Logical<TValue>(LogicalSchema schema)
    {
        var type = schema.LogicalType;
        return schema.BaseSchema.Tag == Schema.Type.Int
            ? input => (TValue)type.ConvertToLogicalValue(input.ReadInt(), schema)
            : input => (TValue)type.ConvertToLogicalValue(input.ReadLong(), schema);
    }
}

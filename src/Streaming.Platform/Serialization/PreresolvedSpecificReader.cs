using Avro.IO;
using Avro.Specific;

namespace Streaming.Platform.Serialization;

/// <summary>
/// Avro's pre-resolving <see cref="SpecificDatumReader{T}"/> (writer and reader schemas are resolved once into a tree
/// of field readers, where <see cref="SpecificDefaultReader"/>, which Confluent's deserializer uses, resolves them again
/// for every record), with the type of every record and array it creates looked up once: Avro's own accessors look
/// the record type up by name, and build the list type with <c>MakeGenericType</c>, for every object. The objects
/// created are exactly the types Avro's accessors create (each is asked once, at construction, for an instance).
/// </summary>
public sealed class PreresolvedSpecificReader<T>(Avro.Schema writerSchema, Avro.Schema readerSchema) : SpecificDatumReader<T>(writerSchema, readerSchema)
{
    /// <inheritdoc />
    // Called from the base constructor: uses nothing of this instance but the base's accessor.
    protected override RecordAccess GetRecordAccess(Avro.RecordSchema readerSchema) => new Records(base.GetRecordAccess(readerSchema));

    /// <inheritdoc />
    protected override ArrayAccess GetArrayAccess(Avro.ArraySchema readerSchema) => new Arrays(base.GetArrayAccess(readerSchema));

    private sealed class Records(RecordAccess avro) : RecordAccess
    {
        private readonly Type _type = avro.CreateRecord(null!).GetType();

        public object CreateRecord(object reuse) => reuse ?? Activator.CreateInstance(_type)!;

        public object GetField(object record, string fieldName, int fieldPos) => avro.GetField(record, fieldName, fieldPos);

        public void AddField(object record, string fieldName, int fieldPos, object fieldValue) => avro.AddField(record, fieldName, fieldPos, fieldValue);
    }

    private sealed class Arrays(ArrayAccess avro) : ArrayAccess
    {
        private readonly Type _type = avro.Create(null!).GetType();

        public object Create(object reuse) => reuse is null ? Activator.CreateInstance(_type)! : avro.Create(reuse);

        public void EnsureSize(ref object array, int targetSize) => avro.EnsureSize(ref array, targetSize);

        public void Resize(ref object array, int targetSize) => avro.Resize(ref array, targetSize);

        public void AddElements(object array, int elements, int index, ReadItem itemReader, Decoder decoder, bool reuse)
            => avro.AddElements(array, elements, index, itemReader, decoder, reuse);
    }
}

/// <summary>A value could not be framed for the registry (its schema is not registered under the subject).</summary>
public sealed class AvroFramingException(string message, Exception inner) : Exception(message, inner);

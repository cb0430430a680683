using System.Globalization;
using Avro;

namespace Streaming.SchemaRegistry.Evolution;

/// <summary>One reason a reader schema cannot read data written with a writer schema.</summary>
/// <param name="Path">Where, from the reader's root: <c>Invoice.lines[].amount</c> (<c>[]</c> = array items, <c>{}</c> = map values).</param>
/// <param name="Reason">Why, in words that name both sides.</param>
public sealed record ResolutionIssue(string Path, string Reason)
{
    /// <inheritdoc />
    public override string ToString() => $"{Path}: {Reason}";
}

/// <summary>
/// The Avro specification's schema-resolution rules ("Schema Resolution"), as a check: can a reader with one schema read
/// every datum written with another? Follows the rules Confluent Schema Registry applies through Avro's
/// <c>SchemaCompatibility</c>, plus logical types: a decimal whose precision or scale differs, or two different
/// logical types on one value, are reported (the bytes would be read as a different number or instant).
/// </summary>
public static class AvroResolution
{
    /// <summary>Every issue found when <paramref name="reader"/> reads data written with <paramref name="writer"/>; empty when it can.</summary>
    public static IReadOnlyList<ResolutionIssue> Check(AvroSchemaDocument reader, AvroSchemaDocument writer)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(writer);
        var walk = new Walk(reader);
        walk.Visit(reader.Schema, writer.Schema, RootPath(reader.Schema));
        return walk.Issues;
    }

    private static string RootPath(Schema schema) => schema switch
    {
        NamedSchema named => named.Name,
        LogicalSchema logical => RootPath(logical.BaseSchema),
        _ => Describe(schema),
    };

    /// <summary>A short type description for messages: <c>long</c>, <c>record Invoice</c>, <c>bytes/decimal(18,4)</c>, <c>[null, string]</c>.</summary>
    internal static string Describe(Schema schema) => schema switch
    {
        LogicalSchema { LogicalTypeName: "decimal" } d => $"{Describe(d.BaseSchema)}/decimal({DecimalPrecision(d)},{DecimalScale(d)})",
        LogicalSchema l => $"{Describe(l.BaseSchema)}/{l.LogicalTypeName}",
        RecordSchema r => $"record {r.Fullname}",
        EnumSchema e => $"enum {e.Fullname}",
        FixedSchema f => $"fixed {f.Fullname}({f.Size})",
        ArraySchema a => $"array<{Describe(a.ItemSchema)}>",
        MapSchema m => $"map<{Describe(m.ValueSchema)}>",
        UnionSchema u => "[" + string.Join(", ", u.Schemas.Select(Describe)) + "]",
        _ => Schema.GetTypeString(schema.Tag),
    };

    private static int DecimalPrecision(LogicalSchema schema) => IntProperty(schema, "precision") ?? 0;

    private static int DecimalScale(LogicalSchema schema) => IntProperty(schema, "scale") ?? 0;

    private static int? IntProperty(Schema schema, string name) =>
        schema.GetProperty(name) is { } text && int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : null;

    private sealed class Walk(AvroSchemaDocument readerDocument)
    {
        // Record pairs already being compared: a recursive schema meets itself again and is assumed compatible there
        // (any real difference is reported where the pair was first met).
        private readonly HashSet<(Schema, Schema)> _inProgress = new(new PairComparer());

        public List<ResolutionIssue> Issues { get; } = [];

        public void Visit(Schema reader, Schema writer, string path)
        {
            // Writer union: every branch the writer may have written must be readable.
            if (writer is UnionSchema writerUnion)
            {
                foreach (var branch in writerUnion.Schemas)
                {
                    if (reader is UnionSchema readerUnion)
                    {
                        VisitIntoUnion(readerUnion, branch, path);
                    }
                    else
                    {
                        var before = Issues.Count;
                        Visit(reader, branch, path);
                        if (Issues.Count > before && !IsSameKind(reader, branch))
                        {
                            Issues.RemoveRange(before, Issues.Count - before);
                            Issues.Add(new(path, $"writer union branch '{Describe(branch)}' cannot be read as reader type '{Describe(reader)}' (writer {Describe(writer)})"));
                        }
                    }
                }

                return;
            }

            if (reader is UnionSchema union)
            {
                VisitIntoUnion(union, writer, path);
                return;
            }

            if (reader is LogicalSchema || writer is LogicalSchema)
            {
                VisitLogical(reader, writer, path);
                return;
            }

            switch (reader)
            {
                case RecordSchema readerRecord when writer is RecordSchema writerRecord:
                    VisitRecord(readerRecord, writerRecord, path);
                    return;
                case EnumSchema readerEnum when writer is EnumSchema writerEnum:
                    VisitEnum(readerEnum, writerEnum, path);
                    return;
                case FixedSchema readerFixed when writer is FixedSchema writerFixed:
                    CheckName(readerFixed, writerFixed, path);
                    if (readerFixed.Size != writerFixed.Size)
                    {
                        Issues.Add(new(path, $"fixed '{readerFixed.Fullname}' size differs: reader {readerFixed.Size} bytes, writer {writerFixed.Size} bytes"));
                    }

                    return;
                case ArraySchema readerArray when writer is ArraySchema writerArray:
                    Visit(readerArray.ItemSchema, writerArray.ItemSchema, path + "[]");
                    return;
                case MapSchema readerMap when writer is MapSchema writerMap:
                    Visit(readerMap.ValueSchema, writerMap.ValueSchema, path + "{}");
                    return;
                case PrimitiveSchema when writer is PrimitiveSchema:
                    if (!PrimitiveReads(reader.Tag, writer.Tag))
                    {
                        Issues.Add(new(path, $"reader type '{Describe(reader)}' cannot read writer type '{Describe(writer)}'"));
                    }

                    return;
                default:
                    Issues.Add(new(path, $"reader type '{Describe(reader)}' cannot read writer type '{Describe(writer)}'"));
                    return;
            }
        }

        private static bool IsSameKind(Schema a, Schema b) => Unwrap(a).Tag == Unwrap(b).Tag && (Unwrap(a) is not NamedSchema || Unwrap(a).Name == Unwrap(b).Name);

        private static Schema Unwrap(Schema s) => s is LogicalSchema l ? l.BaseSchema : s;

        private void VisitIntoUnion(UnionSchema reader, Schema writer, string path)
        {
            // Per the specification the first reader branch that matches is used; for compatibility any readable branch will do.
            foreach (var branch in reader.Schemas)
            {
                if (Probe(branch, writer, path).Count == 0)
                {
                    return;
                }
            }

            // Nothing reads it. When a branch is clearly meant to (same named type, or same primitive), report its own
            // issues, which point deeper than "no branch matches".
            var closest = reader.Schemas.FirstOrDefault(b => IsSameKind(b, writer));
            if (closest is not null && Unwrap(closest) is NamedSchema)
            {
                Visit(closest, writer, path);
                return;
            }

            Issues.Add(new(path, $"no branch of reader union {Describe(reader)} can read writer type '{Describe(writer)}'"));
        }

        private List<ResolutionIssue> Probe(Schema reader, Schema writer, string path)
        {
            var probe = new Walk(readerDocument);
            foreach (var pair in _inProgress)
            {
                probe._inProgress.Add(pair);
            }

            probe.Visit(reader, writer, path);
            return probe.Issues;
        }

        private void VisitLogical(Schema reader, Schema writer, string path)
        {
            var readerLogical = reader as LogicalSchema;
            var writerLogical = writer as LogicalSchema;
            var readerBase = Unwrap(reader);
            var writerBase = Unwrap(writer);
            var readerName = readerLogical?.LogicalTypeName;
            var writerName = writerLogical?.LogicalTypeName;

            if (readerName == "decimal" || writerName == "decimal")
            {
                if (readerName != writerName)
                {
                    Issues.Add(new(path, $"reader type '{Describe(reader)}' cannot read writer type '{Describe(writer)}': a decimal's bytes are an unscaled number that only the same decimal type reads correctly"));
                    return;
                }

                var (rp, rs) = (DecimalPrecision(readerLogical!), DecimalScale(readerLogical!));
                var (wp, ws) = (DecimalPrecision(writerLogical!), DecimalScale(writerLogical!));
                if (rs != ws)
                {
                    Issues.Add(new(path, $"decimal scale differs: reader decimal({rp},{rs}), writer decimal({wp},{ws}); the same bytes would be read as a different amount"));
                }
                else if (rp != wp)
                {
                    Issues.Add(new(path, $"decimal precision differs: reader decimal({rp},{rs}), writer decimal({wp},{ws})"));
                }
            }
            else if (readerName is not null && writerName is not null && readerName != writerName)
            {
                Issues.Add(new(path, $"logical type differs: reader '{Describe(reader)}', writer '{Describe(writer)}'; the same value would be read as something else"));
                return;
            }

            // A logical type on only one side of a non-decimal value is an annotation the other side ignores (Avro spec:
            // readers fall back to the underlying type), so only the underlying types are resolved.
            var before = Issues.Count;
            Visit(readerBase, writerBase, path);
            if (Issues.Count > before && readerBase is PrimitiveSchema && writerBase is PrimitiveSchema)
            {
                Issues[^1] = new(path, $"reader type '{Describe(reader)}' cannot read writer type '{Describe(writer)}'");
            }
        }

        private void VisitRecord(RecordSchema reader, RecordSchema writer, string path)
        {
            if (!CheckName(reader, writer, path) || !_inProgress.Add((reader, writer)))
            {
                return;
            }

            foreach (var readerField in reader.Fields)
            {
                var fieldPath = path + "." + readerField.Name;
                var writerField = FindWriterField(readerField, writer);
                if (writerField is null)
                {
                    if (readerField.DefaultValue is null)
                    {
                        Issues.Add(new(fieldPath, $"reader field '{readerField.Name}' ({Describe(readerField.Schema)}) has no default and the writer record '{writer.Fullname}' has no such field"));
                    }

                    continue;
                }

                Visit(readerField.Schema, writerField.Schema, fieldPath);
            }

            _inProgress.Remove((reader, writer));
        }

        private static Field? FindWriterField(Field readerField, RecordSchema writer)
        {
            if (writer.TryGetField(readerField.Name, out var byName))
            {
                return byName;
            }

            foreach (var alias in readerField.Aliases ?? [])
            {
                if (writer.TryGetField(alias, out var byAlias))
                {
                    return byAlias;
                }
            }

            return null;
        }

        private void VisitEnum(EnumSchema reader, EnumSchema writer, string path)
        {
            if (!CheckName(reader, writer, path))
            {
                return;
            }

            var missing = writer.Symbols.Where(s => !reader.Contains(s)).ToList();
            if (missing.Count > 0 && reader.Default is null)
            {
                Issues.Add(new(path, $"enum '{reader.Fullname}': writer symbol(s) {string.Join(", ", missing)} missing from the reader, which has no enum default"));
            }
        }

        /// <summary>Avro's name rule (as in Avro's <c>SchemaCompatibility</c>): same unqualified name, or a reader alias naming the writer's full name.</summary>
        private bool CheckName(NamedSchema reader, NamedSchema writer, string path)
        {
            if (string.Equals(reader.Name, writer.Name, StringComparison.Ordinal))
            {
                return true;
            }

            var aliases = readerDocument.AliasesOf(reader.Fullname);
            if (aliases.Contains(writer.Fullname, StringComparer.Ordinal))
            {
                return true;
            }

            Issues.Add(new(path, $"{KindOf(reader)} name differs: reader '{reader.Fullname}', writer '{writer.Fullname}', and no reader alias names '{writer.Fullname}'"));
            return false;
        }

        private static string KindOf(NamedSchema schema) => schema switch
        {
            RecordSchema => "record",
            EnumSchema => "enum",
            _ => "fixed",
        };

        private static bool PrimitiveReads(Schema.Type reader, Schema.Type writer) =>
            reader == writer || (writer, reader) switch
            {
                (Schema.Type.Int, Schema.Type.Long or Schema.Type.Float or Schema.Type.Double) => true,
                (Schema.Type.Long, Schema.Type.Float or Schema.Type.Double) => true,
                (Schema.Type.Float, Schema.Type.Double) => true,
                (Schema.Type.String, Schema.Type.Bytes) => true,
                (Schema.Type.Bytes, Schema.Type.String) => true,
                _ => false,
            };
    }

    private sealed class PairComparer : IEqualityComparer<(Schema, Schema)>
    {
        public bool Equals((Schema, Schema) x, (Schema, Schema) y) => ReferenceEquals(x.Item1, y.Item1) && ReferenceEquals(x.Item2, y.Item2);

        public int GetHashCode((Schema, Schema) obj) =>
            HashCode.Combine(System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(obj.Item1), System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(obj.Item2));
    }
}

using System.Globalization;
using Npgsql;
using NpgsqlTypes;
using Streaming.Sinks.Ledger;

namespace Streaming.Sinks.Tests;

/// <summary>
/// <see cref="PgBinaryCopyWriter"/> against Npgsql's own <see cref="NpgsqlBinaryImporter"/>: the same values are imported both
/// ways into the same table and read back as PostgreSQL's text output, which must be identical column by column (numeric
/// display scale included), and every numeric must read back as the exact decimal that was written.
/// </summary>
public sealed class PgBinaryCopyWriterTests(PostgresFixture postgres)
{
    private const string Columns = "id, t, i, b, d, ts, n, c";

    public static readonly decimal[] Numerics =
    [
        0m, 0.00m, -0.01m, 0.01m, 1m, -1m, 10.50m, 10.5000m, 12345678.9012m, 0.0825m, 0.00001m, 0.0001m, 9999m, 10000m, 10001m, 9999.9999m,
        100000000m, -100000000.00000001m, 1234.5m, 0.5m, 123456789012345678.1234567890m, -98765432109876543210.12345678m,
        decimal.MaxValue, decimal.MinValue, 0.0000000000000000000000000001m, -0.0000000000000000000000000001m, 1.0000000000000000000000000000m,
        79228162514264337593543950.335m, 100.25m, 8.25m, 42m, -0m,
    ];

    private sealed record Row(int Id, string? Text, int? Int, long? Big, DateOnly? Date, DateTimeOffset? Ts, decimal? Numeric, string? Char3);

    private static List<Row> Rows()
    {
        var rows = new List<Row>
        {
            new(0, null, null, null, null, null, null, null),
            new(1, "", int.MinValue, long.MinValue, new DateOnly(1999, 12, 31), new DateTimeOffset(1999, 12, 31, 23, 59, 59, 999, TimeSpan.Zero), 0m, "USD"),
            new(2, "Zürich € 東京 \u00e9", int.MaxValue, long.MaxValue, new DateOnly(2000, 1, 1), new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero), 1m, "EUR"),
            new(3, "invoice:in_1:issued", 0, 0, new DateOnly(2026, 11, 26), new DateTimeOffset(2026, 11, 26, 3, 4, 5, TimeSpan.Zero).AddTicks(1234567), -1m, "JPY"),
            new(4, new string('x', 100_000), -1, -1, new DateOnly(1970, 1, 1), new DateTimeOffset(1970, 1, 1, 0, 0, 0, TimeSpan.Zero).AddTicks(-5), 0.5m, null),
        };
        for (var i = 0; i < Numerics.Length; i++)
        {
            rows.Add(new Row(100 + i, $"n{i}", i, i * 1_000_000_007L, new DateOnly(2026, 1, 1).AddDays(i * 37), DateTimeOffset.UnixEpoch.AddTicks(i * 987_654_321_123L), Numerics[i], "CHF"));
        }

        return rows;
    }

    [Fact]
    public async Task Writes_what_npgsqls_importer_writes()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = new NpgsqlConnection(await postgres.NewDatabaseAsync());
        await connection.OpenAsync(ct);
        foreach (var table in new[] { "by_npgsql", "by_writer" })
        {
            await using var create = new NpgsqlCommand(
                $"CREATE TABLE {table} (id integer PRIMARY KEY, t text, i integer, b bigint, d date, ts timestamptz, n numeric, c char(3));", connection);
            await create.ExecuteNonQueryAsync(ct);
        }

        var rows = Rows();
        await using (var importer = await connection.BeginBinaryImportAsync($"COPY by_npgsql ({Columns}) FROM STDIN (FORMAT BINARY)", ct))
        {
            foreach (var r in rows)
            {
                await importer.StartRowAsync(ct);
                await importer.WriteAsync(r.Id, NpgsqlDbType.Integer, ct);
                await Nullable(importer, r.Text, NpgsqlDbType.Text);
                await Nullable(importer, r.Int, NpgsqlDbType.Integer);
                await Nullable(importer, r.Big, NpgsqlDbType.Bigint);
                await Nullable(importer, r.Date, NpgsqlDbType.Date);
                await Nullable(importer, r.Ts, NpgsqlDbType.TimestampTz);
                await Nullable(importer, r.Numeric, NpgsqlDbType.Numeric);
                await Nullable(importer, r.Char3, NpgsqlDbType.Text);
            }

            await importer.CompleteAsync(ct);
        }

        using (var writer = new PgBinaryCopyWriter(initialCapacity: 16)) // tiny: the buffer must grow
        {
            foreach (var r in rows)
            {
                writer.StartRow(8);
                writer.Int32(r.Id);
                writer.NullableText(r.Text);
                writer.NullableInt32(r.Int);
                writer.NullableInt64(r.Big);
                if (r.Date is { } d) { writer.Date(d); } else { writer.Null(); }
                if (r.Ts is { } ts) { writer.TimestampTz(ts); } else { writer.Null(); }
                if (r.Numeric is { } n) { writer.Numeric(n); } else { writer.Null(); }
                writer.NullableText(r.Char3);
            }

            await writer.CopyAsync(connection, $"COPY by_writer ({Columns}) FROM STDIN (FORMAT BINARY)", ct);
        }

        var expected = await ReadAsTextAsync(connection, "by_npgsql");
        var actual = await ReadAsTextAsync(connection, "by_writer");
        Assert.Equal(rows.Count, expected.Count);
        Assert.Equal(expected, actual);

        // Exact decimals, sign and scale included (10.50 stays 10.50, -0.01 stays negative).
        await using var read = new NpgsqlCommand("SELECT id, n FROM by_writer WHERE n IS NOT NULL ORDER BY id", connection);
        await using var reader = await read.ExecuteReaderAsync(ct);
        var byId = rows.Where(r => r.Numeric is not null).ToDictionary(r => r.Id, r => r.Numeric!.Value);
        var seen = 0;
        while (await reader.ReadAsync(ct))
        {
            var id = reader.GetInt32(0);
            var value = reader.GetDecimal(1);
            Assert.Equal(byId[id], value);
            Assert.Equal(byId[id].ToString(CultureInfo.InvariantCulture), value.ToString(CultureInfo.InvariantCulture));
            seen++;
        }

        Assert.Equal(byId.Count, seen);
        return;

        Task Nullable<T>(NpgsqlBinaryImporter importer, T? value, NpgsqlDbType type) => value is null ? importer.WriteNullAsync(ct) : importer.WriteAsync(value, type, ct);
    }

    [Fact]
    public async Task A_server_error_surfaces_from_the_copy_and_nothing_is_written()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = new NpgsqlConnection(await postgres.NewDatabaseAsync());
        await connection.OpenAsync(ct);
        await using (var create = new NpgsqlCommand("CREATE TABLE k (id integer PRIMARY KEY);", connection))
        {
            await create.ExecuteNonQueryAsync(ct);
        }

        using var writer = new PgBinaryCopyWriter();
        writer.StartRow(1);
        writer.Int32(7);
        writer.StartRow(1);
        writer.Int32(7);
        var ex = await Assert.ThrowsAsync<PostgresException>(() => writer.CopyAsync(connection, "COPY k (id) FROM STDIN (FORMAT BINARY)", ct));
        Assert.Equal(PostgresErrorCodes.UniqueViolation, ex.SqlState);
        await using var count = new NpgsqlCommand("SELECT count(*) FROM k", connection);
        Assert.Equal(0L, (long)(await count.ExecuteScalarAsync(ct))!);
    }

    private static async Task<List<string>> ReadAsTextAsync(NpgsqlConnection connection, string table)
    {
        var ct = TestContext.Current.CancellationToken;
        // PostgreSQL's own text output of every column, NULL spelled out, in a fixed time zone.
        await using (var tz = new NpgsqlCommand("SET TIME ZONE 'UTC'", connection))
        {
            await tz.ExecuteNonQueryAsync(ct);
        }

        await using var cmd = new NpgsqlCommand(
            $"SELECT concat_ws(' | ', id::text, coalesce(t, '<null>'), coalesce(i::text, '<null>'), coalesce(b::text, '<null>'), coalesce(d::text, '<null>'), "
            + $"coalesce(ts::text, '<null>'), coalesce(n::text, '<null>'), coalesce(c::text, '<null>')) FROM {table} ORDER BY id", connection);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var rows = new List<string>();
        while (await reader.ReadAsync(ct))
        {
            rows.Add(reader.GetString(0));
        }

        return rows;
    }
}

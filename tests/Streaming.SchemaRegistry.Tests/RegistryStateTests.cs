using Streaming.SchemaRegistry.Storage;

namespace Streaming.SchemaRegistry.Tests;

/// <summary>
/// <see cref="RegistryState"/>: applying the registry's log is deterministic and "first in the log wins" for
/// conflicting registrations, so every instance reading the same log agrees; records survive their JSON round trip
/// (what the <c>_schemas</c> topic carries). The Kafka transport itself is in <see cref="KafkaSchemaStoreTests"/>.
/// </summary>
public sealed class RegistryStateTests
{
    private const string X = """{"type":"record","name":"X","fields":[{"name":"a","type":"int"}]}""";
    private const string Y = """{"type":"record","name":"Y","fields":[{"name":"b","type":"string"}]}""";

    private static SchemaRecord Rec(string subject, int version, int id, string schema, bool deleted = false) =>
        new(subject, version, id, schema, "AVRO", [], deleted);

    private static RegistryState Replay(params RegistryRecord[] log)
    {
        var state = new RegistryState();
        foreach (var record in log)
        {
            // Through the topic's wire form, as a restarted instance reads it.
            state.Apply(RegistryRecord.Parse(record.Key, record.Value)!);
        }

        return state;
    }

    [Fact]
    public void A_second_registration_of_the_same_subject_version_is_ignored()
    {
        var state = new RegistryState();

        Assert.True(state.Apply(Rec("s", 1, 1, X)));
        Assert.False(state.Apply(Rec("s", 1, 2, Y)));

        Assert.Equal(X, state.GetVersions("s", includeDeleted: false)!.Single().Schema);
        Assert.Null(state.GetSchema(2));
    }

    [Fact]
    public void An_id_already_given_to_another_schema_is_not_reused()
    {
        var state = new RegistryState();

        Assert.True(state.Apply(Rec("a", 1, 1, X)));
        Assert.False(state.Apply(Rec("b", 1, 1, Y)));

        Assert.Null(state.GetVersions("b", includeDeleted: true));
        Assert.Equal(2, state.NextId());
        Assert.Equal(1, state.NextVersion("b"));
    }

    [Fact]
    public void One_schema_keeps_one_id_across_subjects()
    {
        var state = new RegistryState();

        Assert.True(state.Apply(Rec("a", 1, 1, X)));
        Assert.False(state.Apply(Rec("b", 1, 2, X)));
        Assert.True(state.Apply(Rec("b", 1, 1, X)));

        Assert.Equal([("a", 1), ("b", 1)], state.GetSubjectVersionsForId(1, includeDeleted: false).Select(v => (v.Subject, v.Version)));
    }

    [Fact]
    public void Soft_delete_hides_and_a_tombstone_removes_and_frees_nothing_else()
    {
        var state = Replay(
            Rec("a", 1, 1, X), Rec("a", 2, 2, Y), Rec("b", 1, 2, Y),
            Rec("a", 2, 2, Y, deleted: true), new SchemaTombstone("a", 2),
            new ConfigRecord("a", "FULL"), new ConfigRecord(null, "NONE"), new ConfigRecord("a", null));

        Assert.Equal([1], state.GetVersions("a", includeDeleted: true)!.Select(v => v.Version));
        Assert.Equal(Y, state.GetSchema(2)!.Schema); // still used by b
        Assert.Equal(3, state.NextVersion("a"));     // version numbers are not reused
        Assert.Null(state.GetLevel("a"));
        Assert.Equal("NONE", state.EffectiveLevel("a"));
    }

    [Fact]
    public void Replaying_the_same_log_twice_gives_the_same_state()
    {
        RegistryRecord[] log =
        [
            Rec("a", 1, 1, X), Rec("b", 1, 1, Y), Rec("b", 1, 2, Y), Rec("a", 1, 3, Y), Rec("a", 2, 2, Y),
            new ConfigRecord("b", "FORWARD"), Rec("a", 1, 1, X, deleted: true),
        ];

        var first = Replay(log);
        var second = Replay(log);

        foreach (var state in new[] { first, second })
        {
            Assert.Equal(["a", "b"], state.GetSubjects(includeDeleted: true));
            Assert.Equal([(1, 1, true), (2, 2, false)], state.GetVersions("a", includeDeleted: true)!.Select(v => (v.Version, v.Id, v.Deleted)));
            Assert.Equal([(1, 2)], state.GetVersions("b", includeDeleted: false)!.Select(v => (v.Version, v.Id)));
            Assert.Equal("FORWARD", state.EffectiveLevel("b"));
            Assert.Equal(3, state.NextId());
        }
    }

    [Fact]
    public void Records_round_trip_through_their_topic_key_and_value()
    {
        var record = new SchemaRecord("orders-value", 3, 7, X, "AVRO", [new SchemaReferenceRecord("t.Money", "money-value", 2)], Deleted: true);

        var parsed = Assert.IsType<SchemaRecord>(RegistryRecord.Parse(record.Key, record.Value));

        Assert.True(parsed.SameRegistration(record));
        Assert.True(parsed.Deleted);
        Assert.Equal("""{"keytype":"SCHEMA","subject":"orders-value","version":3,"magic":1}""", record.Key);
        Assert.Equal(new SchemaTombstone("orders-value", 3), RegistryRecord.Parse(record.Key, null));
        Assert.Null(RegistryRecord.Parse("""{"keytype":"NOOP","magic":0}""", null));
    }
}

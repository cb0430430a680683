namespace Streaming.SchemaRegistry.Storage;

/// <summary>
/// The registry's log and the state built from it. Writes go through <see cref="AppendAsync"/> and return once the record is
/// part of <see cref="State"/>; reads come from <see cref="State"/>. Backed by memory (<see cref="InMemorySchemaStore"/>) or by
/// the compacted <c>_schemas</c> topic (<see cref="KafkaSchemaStore"/>).
/// </summary>
public interface ISchemaStore : IAsyncDisposable
{
    /// <summary>The state as of the last record this instance read.</summary>
    RegistryState State { get; }

    /// <summary>Waits until every record written to the log before this call (by any instance) is in <see cref="State"/>.</summary>
    ValueTask CatchUpAsync(CancellationToken cancellationToken);

    /// <summary>Writes <paramref name="record"/> and waits until this instance has applied it; returns whether it was applied (false: a conflicting record was first).</summary>
    ValueTask<bool> AppendAsync(RegistryRecord record, CancellationToken cancellationToken);
}

/// <summary>In-memory <see cref="ISchemaStore"/>: the log is a method call. Ids are lost on restart; for tests and throwaway use.</summary>
public sealed class InMemorySchemaStore(string defaultLevel = "BACKWARD") : ISchemaStore
{
    /// <inheritdoc />
    public RegistryState State { get; } = new(defaultLevel);

    /// <inheritdoc />
    public ValueTask CatchUpAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <inheritdoc />
    public ValueTask<bool> AppendAsync(RegistryRecord record, CancellationToken cancellationToken) => ValueTask.FromResult(State.Apply(record));

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

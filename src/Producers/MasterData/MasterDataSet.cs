using Streaming.Contracts.MasterData;

namespace Streaming.Producers.MasterData;

/// <summary>One problem in a master-data directory: the file, the row (CSV: line of the record, header = 1; JSON: 1-based position in the array; 0 = the file as a whole), the field and the reason.</summary>
public sealed record MasterDataError(string File, int Row, string? Field, string Reason)
{
    /// <inheritdoc />
    public override string ToString() => Row == 0
        ? $"{File}: {Reason}"
        : $"{File}, row {Row}{(Field is null ? "" : $", {Field}")}: {Reason}";
}

/// <summary>A record with the place it was read from, so a failed check can name it.</summary>
public sealed record Located<T>(T Record, string File, int Row);

/// <summary>Master data read from a directory, in file order: what the loader produces to the <c>md.*</c> topics.</summary>
public sealed class MasterDataSet
{
    /// <summary>Legal entities (<c>md.legal-entities.v1</c>).</summary>
    public List<Located<LegalEntity>> LegalEntities { get; } = [];

    /// <summary>Products with their prices and tiers (<c>md.products.v1</c>).</summary>
    public List<Located<Product>> Products { get; } = [];

    /// <summary>Tax rules (<c>md.tax-rules.v1</c>).</summary>
    public List<Located<TaxRule>> TaxRules { get; } = [];

    /// <summary>GL mappings (<c>md.gl-mappings.v1</c>).</summary>
    public List<Located<GlMapping>> GlMappings { get; } = [];

    /// <summary>Account links (<c>md.account-links.v1</c>).</summary>
    public List<Located<AccountLink>> AccountLinks { get; } = [];
}

/// <summary>A master-data directory failed to read or failed its checks; nothing was produced.</summary>
public sealed class MasterDataException(IReadOnlyList<MasterDataError> errors)
    : Exception($"{errors.Count} master-data error(s):{Environment.NewLine}" + string.Join(Environment.NewLine, errors))
{
    /// <summary>Every error found, in file order.</summary>
    public IReadOnlyList<MasterDataError> Errors { get; } = errors;
}

using System.Globalization;
using System.Numerics;
using Avro;

namespace Streaming.Contracts;

/// <summary>
/// Exact conversion between <see cref="decimal"/> and the <see cref="AvroDecimal"/> used by generated contracts
/// for Avro <c>decimal</c> logical types. Never rounds: a value that does not fit the field's precision and scale is rejected.
/// </summary>
public static class Money
{
    /// <summary>Precision of money fields (total digits).</summary>
    public const int Precision = 18;

    /// <summary>Scale of money fields (digits after the point); covers every ISO-4217 minor unit.</summary>
    public const int Scale = 4;

    /// <summary>Scale of quantity fields (usage quantities, line quantities, tier bounds).</summary>
    public const int QuantityScale = 6;

    /// <summary>Precision of tax-rate fields.</summary>
    public const int RatePrecision = 9;

    /// <summary>Scale of tax-rate fields (0.072500 = 7.25 %).</summary>
    public const int RateScale = 6;

    /// <summary>A money amount (precision 18, scale 4) for the wire.</summary>
    public static AvroDecimal ToAvro(decimal value) => ToAvro(value, Precision, Scale);

    /// <summary>An optional money amount for the wire.</summary>
    public static AvroDecimal? ToAvro(decimal? value) => value is { } v ? ToAvro(v) : null;

    /// <summary>A quantity (precision 18, scale 6) for the wire.</summary>
    public static AvroDecimal Quantity(decimal value) => ToAvro(value, Precision, QuantityScale);

    /// <summary>A tax rate (precision 9, scale 6) for the wire.</summary>
    public static AvroDecimal Rate(decimal value) => ToAvro(value, RatePrecision, RateScale);

    /// <summary>
    /// Converts <paramref name="value"/> to an <see cref="AvroDecimal"/> with exactly <paramref name="scale"/> digits after the point
    /// (the scale the schema declares; Avro rejects any other).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value has more fractional digits than <paramref name="scale"/>, or more than <paramref name="precision"/> digits in all.</exception>
    public static AvroDecimal ToAvro(decimal value, int precision, int scale)
    {
        if (precision is < 1 or > 28 || scale < 0 || scale > precision)
        {
            throw new ArgumentOutOfRangeException(nameof(scale), $"precision {precision} / scale {scale} is not a valid decimal(p,s) with p <= 28");
        }

        decimal scaled;
        try
        {
            scaled = value * Pow10(scale);
        }
        catch (OverflowException)
        {
            throw OutOfRange(value, precision, scale, "it is too large");
        }

        if (scaled != decimal.Truncate(scaled))
        {
            throw OutOfRange(value, precision, scale, $"it has more than {scale} digits after the point and would have to be rounded");
        }

        var unscaled = new BigInteger(scaled);
        if (BigInteger.Abs(unscaled) >= BigInteger.Pow(10, precision))
        {
            throw OutOfRange(value, precision, scale, $"it has more than {precision - scale} digits before the point");
        }

        return new AvroDecimal(unscaled, scale);
    }

    /// <summary>
    /// Converts a wire value back to <see cref="decimal"/>, keeping its scale (1500 at scale 4 becomes 1500.0000).
    /// </summary>
    /// <exception cref="OverflowException">The unscaled value does not fit a <see cref="decimal"/> (impossible for precision ≤ 28).</exception>
    public static decimal ToDecimal(AvroDecimal value)
    {
        var unscaled = value.UnscaledValue;
        var negative = unscaled.Sign < 0;
        var magnitude = BigInteger.Abs(unscaled);
        if (magnitude.GetByteCount(isUnsigned: true) > 12 || value.Scale > 28)
        {
            throw new OverflowException($"Avro decimal {value} does not fit System.Decimal");
        }

        Span<byte> bytes = stackalloc byte[12];
        bytes.Clear();
        magnitude.TryWriteBytes(bytes, out _, isUnsigned: true, isBigEndian: false);
        var lo = BitConverter.ToInt32(bytes[..4]);
        var mid = BitConverter.ToInt32(bytes[4..8]);
        var hi = BitConverter.ToInt32(bytes[8..12]);
        return new decimal(lo, mid, hi, negative, (byte)value.Scale);
    }

    /// <summary>Converts an optional wire value back to <see cref="decimal"/>.</summary>
    public static decimal? ToDecimal(AvroDecimal? value) => value is { } v ? ToDecimal(v) : null;

    private static decimal Pow10(int exponent)
    {
        var result = 1m;
        for (var i = 0; i < exponent; i++)
        {
            result *= 10m;
        }

        return result;
    }

    private static ArgumentOutOfRangeException OutOfRange(decimal value, int precision, int scale, string why) =>
        new(nameof(value), value,
            string.Create(CultureInfo.InvariantCulture, $"{value} does not fit Avro decimal(precision {precision}, scale {scale}): {why}."));
}

namespace Streaming.Contracts.Tests;

/// <summary>The <see cref="Money"/> helper converts exactly and refuses to round or overflow. Wire behaviour is in RoundTripTests.</summary>
public sealed class MoneyTests
{
    [Theory]
    [InlineData("1234.5678", "1234.5678")]
    [InlineData("0.0001", "0.0001")]
    [InlineData("1500", "1500.0000")]
    [InlineData("-42.1", "-42.1000")]
    [InlineData("99999999999999.9999", "99999999999999.9999")]
    [InlineData("-99999999999999.9999", "-99999999999999.9999")]
    public void Money_converts_exactly_and_comes_back_at_scale_4(string input, string expected)
    {
        var value = decimal.Parse(input, System.Globalization.CultureInfo.InvariantCulture);

        var avro = Money.ToAvro(value);

        Assert.Equal(4, avro.Scale);
        Assert.Equal(expected, Money.ToDecimal(avro).ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(value, Money.ToDecimal(avro));
    }

    [Fact]
    public void Money_rejects_a_fifth_decimal_place_instead_of_rounding()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Money.ToAvro(0.00005m));
        Assert.Contains("scale 4", ex.Message, StringComparison.Ordinal);
        Assert.Contains("rounded", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Money_rejects_more_than_14_integer_digits()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Money.ToAvro(100_000_000_000_000m));
        Assert.Contains("precision 18", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Money_rejects_values_too_large_for_decimal_arithmetic()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Money.ToAvro(decimal.MaxValue));
    }

    [Fact]
    public void Quantities_keep_six_decimal_places()
    {
        var avro = Money.Quantity(0.000001m);

        Assert.Equal(6, avro.Scale);
        Assert.Equal(0.000001m, Money.ToDecimal(avro));
        Assert.Throws<ArgumentOutOfRangeException>(() => Money.Quantity(0.0000001m));
    }

    [Fact]
    public void Tax_rates_fit_precision_9_scale_6()
    {
        Assert.Equal(0.0725m, Money.ToDecimal(Money.Rate(0.0725m)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Money.Rate(1000m));
    }

    [Fact]
    public void Optional_money_maps_null_to_null()
    {
        Assert.Null(Money.ToAvro((decimal?)null));
        Assert.Null(Money.ToDecimal((Avro.AvroDecimal?)null));
        Assert.Equal(2.5m, Money.ToDecimal(Money.ToAvro((decimal?)2.5m)));
    }
}

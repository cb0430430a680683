using System.Globalization;

namespace Streaming.Bench.Harness;

/// <summary>
/// Walks a subcommand's arguments (<c>--name value</c> pairs and flags) with one set of rules for values, so every
/// scenario reports a missing or bad value the same way, naming the option.
/// </summary>
public sealed class BenchArguments
{
    private readonly IReadOnlyList<string> _args;
    private int _i;

    private BenchArguments(IReadOnlyList<string> args) => _args = args;

    /// <summary>The option being handled.</summary>
    public string Name => _args[_i];

    /// <summary>Folds <paramref name="apply"/> over the options, starting from <paramref name="options"/>; <paramref name="apply"/> reads values through this instance.</summary>
    public static T Parse<T>(IReadOnlyList<string> args, T options, Func<BenchArguments, T, T> apply)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(apply);
        var walker = new BenchArguments(args);
        for (walker._i = 0; walker._i < args.Count; walker._i++)
        {
            options = apply(walker, options);
        }

        return options;
    }

    /// <summary>The value after the option.</summary>
    public string Value() => _i + 1 < _args.Count ? _args[++_i] : throw new ArgumentException($"{_args[_i]} needs a value.");

    /// <summary>A non-negative integer value (<c>1_000_000</c> allowed).</summary>
    public long NonNegative()
    {
        var name = Name;
        var v = Value();
        return long.TryParse(v.Replace("_", "", StringComparison.Ordinal), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= 0
            ? n
            : throw new ArgumentException($"{name}: '{v}' is not a non-negative integer.");
    }

    /// <summary>A non-negative integer value that fits an <see cref="int"/>.</summary>
    public int NonNegativeInt() => checked((int)NonNegative());

    /// <summary>A positive integer value (digits only).</summary>
    public int Positive()
    {
        var name = Name;
        return int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0 ? v : throw new ArgumentException($"{name} needs a positive integer.");
    }

    /// <summary>The error for an option the subcommand does not know.</summary>
    public ArgumentException Unknown(string? subcommand = null) => new($"Unknown {(subcommand is null ? "" : subcommand + " ")}option '{Name}'.");
}

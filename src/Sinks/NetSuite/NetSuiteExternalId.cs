using System.Globalization;
using System.Text;

namespace Streaming.Sinks.NetSuite;

/// <summary>
/// NetSuite external ids may hold only letters, digits, underscore and hyphen; posting keys hold colons (<c>invoice:in_1:issued</c>).
/// This encoding is reversible and one-to-one: letters, digits and hyphens stay, <c>_</c> becomes <c>__</c>, <c>:</c> becomes
/// <c>_c</c>, anything else <c>_xHH</c> per UTF-8 byte. <c>invoice:in_1:issued</c> → <c>invoice_cin__1_cissued</c>.
/// </summary>
public static class NetSuiteExternalId
{
    /// <summary>Posting key → external id.</summary>
    public static string FromPostingKey(string postingKey)
    {
        ArgumentException.ThrowIfNullOrEmpty(postingKey);
        var sb = new StringBuilder(postingKey.Length + 8);
        foreach (var b in Encoding.UTF8.GetBytes(postingKey))
        {
            var c = (char)b;
            if (char.IsAsciiLetterOrDigit(c) || c == '-')
            {
                sb.Append(c);
            }
            else if (c == '_')
            {
                sb.Append("__");
            }
            else if (c == ':')
            {
                sb.Append("_c");
            }
            else
            {
                sb.Append("_x").Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return sb.ToString();
    }

    /// <summary>External id → posting key; throws <see cref="FormatException"/> for text this encoding never produces.</summary>
    public static string ToPostingKey(string externalId)
    {
        ArgumentException.ThrowIfNullOrEmpty(externalId);
        var bytes = new List<byte>(externalId.Length);
        for (var i = 0; i < externalId.Length; i++)
        {
            var c = externalId[i];
            if (c != '_')
            {
                bytes.Add(char.IsAsciiLetterOrDigit(c) || c == '-' ? (byte)c : throw new FormatException($"'{externalId}' has '{c}', not allowed in an external id."));
                continue;
            }

            var next = i + 1 < externalId.Length ? externalId[i + 1] : '\0';
            switch (next)
            {
                case '_': bytes.Add((byte)'_'); i++; break;
                case 'c': bytes.Add((byte)':'); i++; break;
                case 'x' when i + 3 < externalId.Length:
                    bytes.Add(byte.Parse(externalId.AsSpan(i + 2, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    i += 3;
                    break;
                default: throw new FormatException($"'{externalId}' has a '_' escape this encoding does not produce at {i}.");
            }
        }

        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    /// <summary>True when <paramref name="externalId"/> uses only NetSuite's allowed characters.</summary>
    public static bool IsValid(string externalId) =>
        !string.IsNullOrEmpty(externalId) && externalId.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-');
}

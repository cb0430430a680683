using System.Text;
using Streaming.Platform.Embedded;

namespace Streaming.Platform.Configuration;

/// <summary>
/// Checks librdkafka keys and values with librdkafka itself (<c>rd_kafka_conf_set</c>), so a typo or a bad value
/// stops start-up with a message naming the configuration path instead of failing later inside a client.
/// </summary>
public static class LibrdkafkaConfigValidator
{
    /// <summary>Returns one message per invalid entry, each naming <paramref name="sectionPath"/>:key.</summary>
    public static IReadOnlyList<string> Validate(IEnumerable<KeyValuePair<string, string>> settings, string sectionPath)
    {
        ArgumentNullException.ThrowIfNull(settings);
        LibrdkafkaNative.EnsureInitialized();
        var errors = new List<string>();
        var conf = LibrdkafkaNative.ConfNew();
        try
        {
            var errstr = new byte[512];
            foreach (var (key, value) in settings)
            {
                Array.Clear(errstr);
                if (LibrdkafkaNative.ConfSet(conf, key, value ?? string.Empty, errstr, (UIntPtr)errstr.Length) != LibrdkafkaNative.ConfOk)
                {
                    var end = Array.IndexOf(errstr, (byte)0);
                    var reason = Encoding.UTF8.GetString(errstr, 0, end < 0 ? errstr.Length : end);
                    errors.Add($"{sectionPath}:{key} = '{value}' is not a valid librdkafka setting: {reason}");
                }
            }
        }
        finally
        {
            LibrdkafkaNative.ConfDestroy(conf);
        }

        return errors;
    }
}

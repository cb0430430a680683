using System.Reflection;
using System.Runtime.InteropServices;

namespace Streaming.Platform.Embedded;

/// <summary>P/Invoke declarations for librdkafka's mock-cluster API, bound to the very library Confluent.Kafka loaded.</summary>
/// <remarks>
/// The redist package ships several Linux builds (<c>librdkafka.so</c>, <c>centos8-librdkafka.so</c>, ...) and
/// Confluent.Kafka picks whichever loads. Two copies of librdkafka in one process would mean two mock
/// clusters worlds and two sets of globals, so the resolver below returns the module that is already mapped.
/// </remarks>
internal static partial class LibrdkafkaNative
{
    internal const string Library = "librdkafka";

    private static readonly Lazy<IntPtr> LoadedModule = new(ResolveLoadedModule, LazyThreadSafetyMode.ExecutionAndPublication);

    static LibrdkafkaNative()
    {
        NativeLibrary.SetDllImportResolver(typeof(LibrdkafkaNative).Assembly, Resolve);
    }

    /// <summary>Forces the type initializer (and so the resolver) to run before the first native call.</summary>
    internal static void EnsureInitialized() => _ = LoadedModule.Value;

    /// <summary>Path of the librdkafka module in use, when the platform lets us find out.</summary>
    internal static string? LoadedPath { get; private set; }

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
        => libraryName == Library ? LoadedModule.Value : IntPtr.Zero;

    private static IntPtr ResolveLoadedModule()
    {
        // Touching the version makes Confluent.Kafka load librdkafka with its own probing rules.
        _ = Confluent.Kafka.Library.Version;
        if (OperatingSystem.IsLinux())
        {
            foreach (var line in File.ReadLines("/proc/self/maps"))
            {
                var slash = line.IndexOf('/', StringComparison.Ordinal);
                if (slash < 0)
                {
                    continue;
                }

                var path = line[slash..].Trim();
                if (Path.GetFileName(path).Contains("librdkafka", StringComparison.Ordinal))
                {
                    LoadedPath = path;
                    return NativeLibrary.Load(path);
                }
            }
        }

        // Elsewhere the platform loader hands back the already-loaded module for the same name.
        var handle = NativeLibrary.Load(Library, typeof(Confluent.Kafka.Library).Assembly, DllImportSearchPath.SafeDirectories | DllImportSearchPath.AssemblyDirectory);
        LoadedPath = Library;
        return handle;
    }

    internal const int RdKafkaProducer = 0;
    internal const int ConfOk = 0;

    [LibraryImport(Library, EntryPoint = "rd_kafka_conf_new")]
    internal static partial IntPtr ConfNew();

    [LibraryImport(Library, EntryPoint = "rd_kafka_conf_set", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int ConfSet(IntPtr conf, string name, string value, byte[] errstr, UIntPtr errstrSize);

    [LibraryImport(Library, EntryPoint = "rd_kafka_conf_destroy")]
    internal static partial void ConfDestroy(IntPtr conf);

    [LibraryImport(Library, EntryPoint = "rd_kafka_new")]
    internal static partial IntPtr KafkaNew(int type, IntPtr conf, byte[] errstr, UIntPtr errstrSize);

    [LibraryImport(Library, EntryPoint = "rd_kafka_destroy")]
    internal static partial void KafkaDestroy(IntPtr rk);

    [LibraryImport(Library, EntryPoint = "rd_kafka_err2str")]
    internal static partial IntPtr Err2Str(int err);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_cluster_new")]
    internal static partial IntPtr MockClusterNew(IntPtr rk, int brokerCount);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_cluster_destroy")]
    internal static partial void MockClusterDestroy(IntPtr mcluster);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_cluster_bootstraps")]
    internal static partial IntPtr MockClusterBootstraps(IntPtr mcluster);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_topic_create", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int MockTopicCreate(IntPtr mcluster, string topic, int partitionCount, int replicationFactor);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_topic_set_error", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial void MockTopicSetError(IntPtr mcluster, string topic, int err);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_partition_set_leader", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int MockPartitionSetLeader(IntPtr mcluster, string topic, int partition, int brokerId);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_broker_set_down")]
    internal static partial int MockBrokerSetDown(IntPtr mcluster, int brokerId);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_broker_set_up")]
    internal static partial int MockBrokerSetUp(IntPtr mcluster, int brokerId);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_broker_set_rtt")]
    internal static partial int MockBrokerSetRtt(IntPtr mcluster, int brokerId, int rttMs);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_push_request_errors_array")]
    internal static partial void MockPushRequestErrorsArray(IntPtr mcluster, short apiKey, UIntPtr count, int[] errors);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_clear_request_errors")]
    internal static partial void MockClearRequestErrors(IntPtr mcluster, short apiKey);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_coordinator_set", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int MockCoordinatorSet(IntPtr mcluster, string keyType, string key, int brokerId);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_group_initial_rebalance_delay_ms")]
    internal static partial void MockGroupInitialRebalanceDelayMs(IntPtr mcluster, int delayMs);

    internal static string ErrorText(int err) => Marshal.PtrToStringUTF8(Err2Str(err)) ?? $"error {err}";
}

/// <summary>Log callback plumbing: librdkafka's mock-cluster log lines go to <see cref="Microsoft.Extensions.Logging.ILogger"/>.</summary>
internal static unsafe partial class LibrdkafkaLogBridge
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<IntPtr, Microsoft.Extensions.Logging.ILogger> Loggers = new();

    [LibraryImport(LibrdkafkaNative.Library, EntryPoint = "rd_kafka_conf_set_log_cb")]
    private static partial void ConfSetLogCb(IntPtr conf, delegate* unmanaged<IntPtr, int, IntPtr, IntPtr, void> cb);

    internal static void Install(IntPtr conf) => ConfSetLogCb(conf, &OnLog);

    internal static void Register(IntPtr rk, Microsoft.Extensions.Logging.ILogger logger) => Loggers[rk] = logger;

    internal static void Unregister(IntPtr rk) => Loggers.TryRemove(rk, out _);

    [UnmanagedCallersOnly]
    private static void OnLog(IntPtr rk, int level, IntPtr facility, IntPtr message)
    {
        try
        {
            if (!Loggers.TryGetValue(rk, out var logger))
            {
                return;
            }

            // syslog levels: 0-3 error, 4 warning, 5-6 info, 7 debug
            var logLevel = level switch
            {
                <= 3 => Microsoft.Extensions.Logging.LogLevel.Error,
                4 => Microsoft.Extensions.Logging.LogLevel.Warning,
                5 or 6 => Microsoft.Extensions.Logging.LogLevel.Information,
                _ => Microsoft.Extensions.Logging.LogLevel.Debug,
            };
            Microsoft.Extensions.Logging.LoggerExtensions.Log(logger, logLevel, "librdkafka [{Facility}] {Message}",
                Marshal.PtrToStringUTF8(facility), Marshal.PtrToStringUTF8(message));
        }
        catch
        {
            // Never let an exception cross into native code.
        }
    }
}

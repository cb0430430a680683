using Confluent.Kafka;
using Streamiz.Kafka.Net;
using Streaming.Processors.Hosting;

namespace Streaming.Processors.Tests;

/// <summary>The producer settings our Streamiz client supplier adds (the running cases are in the integration tests).</summary>
public sealed class StreamizClientSupplierTests
{
    [Fact]
    public void Producers_get_delivery_reports_without_the_value_unless_configured_otherwise()
    {
        var config = new StreamConfig { ApplicationId = "app", BootstrapServers = "127.0.0.1:9" };
        var supplier = new StreamizClientSupplier(config);
        var defaults = config.ToProducerConfig();
        var explicitAll = config.ToProducerConfig();
        explicitAll.DeliveryReportFields = "all";

        using (supplier.GetProducer(defaults))
        using (supplier.GetProducer(explicitAll))
        {
        }

        Assert.Equal("key,timestamp,headers,status", defaults.DeliveryReportFields);
        Assert.DoesNotContain("value", StreamizClientSupplier.DeliveryReportFields, StringComparison.Ordinal);
        Assert.Equal("all", explicitAll.DeliveryReportFields);
    }
}

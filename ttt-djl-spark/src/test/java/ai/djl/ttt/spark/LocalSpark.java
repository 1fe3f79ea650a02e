package ai.djl.ttt.spark;

import java.util.Comparator;
import java.util.List;
import java.util.stream.Collectors;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/** The Spark session of the tests: {@code local[2]} on the loopback, no UI, quiet logs. */
final class LocalSpark {

    private LocalSpark() {}

    /** Starts (or gets) the local session under an application name. */
    static SparkSession start(String appName) {
        SparkSession spark =
                SparkSession.builder()
                        .master("local[2]")
                        .appName(appName)
                        .config("spark.ui.enabled", false)
                        .config("spark.driver.host", "127.0.0.1")
                        .config("spark.driver.bindAddress", "127.0.0.1")
                        .config("spark.sql.shuffle.partitions", 4)
                        .getOrCreate();
        spark.sparkContext().setLogLevel("WARN");
        return spark;
    }

    /** Stops the session (if one was started) and closes the models the executors loaded. */
    static void stop(SparkSession spark) {
        if (spark != null) {
            spark.stop();
        }
        ExecutorModels.closeAll();
    }

    /** A result's rows in the order of their first column, the row id. */
    static List<Row> byId(Dataset<Row> result) {
        return result.collectAsList().stream()
                .sorted(Comparator.comparingLong(r -> r.getLong(0)))
                .collect(Collectors.toList());
    }
}

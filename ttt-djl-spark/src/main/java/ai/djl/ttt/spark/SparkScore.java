package ai.djl.ttt.spark;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.sum;

import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Scores a folder of text files with a model directory on Spark and writes one row per file (path,
 * log-likelihood, tokens, bits per byte, error) as Parquet or CSV, then prints a summary table.
 * Runs in {@code local[*]} by default ({@code ./bin/ttt spark-score}); under {@code spark-submit}
 * the cluster's master applies.
 */
@Command(
        name = "spark-score",
        mixinStandardHelpOptions = true,
        description = {
            "Scores every text file under a folder with a ttt-djl model on Apache Spark: one row"
                    + " per file with its log-likelihood, tokens and bits per byte, written as"
                    + " Parquet or CSV, and a summary table."
        })
public final class SparkScore implements Callable<Integer> {

    @Option(
            names = "--model",
            required = true,
            description =
                    "the model directory (a path every executor reads) or the name of an archive"
                            + " shipped with --archives")
    String model;

    @Option(
            names = "--input",
            required = true,
            description = "a folder of text files (read recursively), or a file")
    String input;

    @Option(
            names = "--glob",
            defaultValue = "*.{txt,md}",
            description = "which file names to read (default ${DEFAULT-VALUE})")
    String glob;

    @Option(
            names = "--output",
            defaultValue = "spark-scores",
            description = "the output folder, replaced if it exists (default ${DEFAULT-VALUE})")
    String output;

    @Option(
            names = "--format",
            defaultValue = "parquet",
            description = "parquet or csv (default ${DEFAULT-VALUE})")
    String format;

    @Option(
            names = "--master",
            defaultValue = "local[*]",
            description =
                    "Spark master when none is configured, as spark-submit does (default"
                            + " ${DEFAULT-VALUE})")
    String master;

    @Option(
            names = "--partitions",
            defaultValue = "0",
            description = "repartition the files into this many tasks (default 0: Spark's split)")
    int partitions;

    @Option(
            names = "--batch-size",
            defaultValue = "16",
            description = "rows per batchPredict call (default ${DEFAULT-VALUE})")
    int batchSize;

    @Option(
            names = "--max-tokens",
            defaultValue = "16384",
            description =
                    "longer files get an error instead of a score (default ${DEFAULT-VALUE}; scoring"
                            + " holds about 3·T·V floats per task)")
    int maxTokens;

    @Option(names = "--keep-text", description = "also write each file's text")
    boolean keepText;

    /**
     * Runs the command.
     *
     * @param args the command line
     */
    public static void main(String[] args) {
        System.exit(new CommandLine(new SparkScore()).execute(args));
    }

    /** {@inheritDoc} */
    @Override
    public Integer call() {
        if (!format.equals("parquet") && !format.equals("csv")) {
            throw new IllegalArgumentException("--format must be parquet or csv, got " + format);
        }
        SparkScorer scorer =
                new SparkScorer().setModel(model).setBatchSize(batchSize).setMaxTokens(maxTokens);
        SparkSession spark =
                SparkSession.builder()
                        .appName("ttt-djl spark-score")
                        .master(System.getProperty("spark.master", master))
                        .getOrCreate();
        try {
            String actualMaster = spark.sparkContext().master();
            if (actualMaster.startsWith("local")) {
                // the driver is the executor: a wrong model path fails here, before Spark starts
                ModelLocation.of(model).resolve();
            }
            Dataset<Row> files =
                    spark.read()
                            .option("wholetext", true)
                            .option("recursiveFileLookup", true)
                            .option("pathGlobFilter", glob)
                            .text(input)
                            .select(col("_metadata.file_path").as("path"), col("value").as("text"));
            if (partitions > 0) {
                files = files.repartition(partitions);
            }
            Dataset<Row> scored = scorer.transform(files);
            if (!keepText) {
                scored = scored.drop("text");
            }
            long start = System.nanoTime();
            scored.write()
                    .mode(SaveMode.Overwrite)
                    .format(format)
                    .option("header", true)
                    .save(output);
            double seconds = (System.nanoTime() - start) / 1e9;
            Dataset<Row> written =
                    spark.read()
                            .format(format)
                            .option("header", true)
                            .option("inferSchema", true)
                            .load(output);
            System.out.print(summary(written, seconds, actualMaster));
            return 0;
        } finally {
            spark.stop();
        }
    }

    /** The summary table of a written result. */
    String summary(Dataset<Row> written, double seconds, String actualMaster) {
        Dataset<Row> ok = written.filter(col("error").isNull());
        Row totals = written.agg(count("*"), count(col("error")), sum(col("tokens"))).first();
        long documents = totals.getLong(0);
        long errors = totals.getLong(1);
        long tokens = totals.isNullAt(2) ? 0 : ((Number) totals.get(2)).longValue();
        // the corpus' bits per byte: all nats over all bytes, bytes_i = -ll_i / (ln 2 · bpb_i)
        Row corpus =
                ok.agg(
                                sum(col("log_likelihood")),
                                sum(col("log_likelihood").divide(col("bits_per_byte"))))
                        .first();
        String corpusBpb =
                corpus.isNullAt(0)
                        ? "-"
                        : String.format(
                                Locale.ROOT, "%.3f", corpus.getDouble(0) / corpus.getDouble(1));
        double[] median = ok.stat().approxQuantile("bits_per_byte", new double[] {0.5}, 0.001);
        StringBuilder sb = new StringBuilder();
        sb.append(
                String.format(
                        Locale.ROOT,
                        "%nspark-score: %s on %s, %.1f s (%.2f documents/s), written to %s (%s)%n%n",
                        model,
                        actualMaster,
                        seconds,
                        documents / seconds,
                        output,
                        format));
        sb.append(
                "| documents | scored | errors | tokens | bits/byte (corpus) | bits/byte (median"
                        + " document) |\n");
        sb.append("|---:|---:|---:|---:|---:|---:|\n");
        sb.append(
                String.format(
                        Locale.ROOT,
                        "| %d | %d | %d | %d | %s | %s |%n",
                        documents,
                        documents - errors,
                        errors,
                        tokens,
                        corpusBpb,
                        median.length == 0 ? "-" : String.format(Locale.ROOT, "%.3f", median[0])));
        table(sb, "Most surprising", ok.orderBy(col("bits_per_byte").desc()).limit(3));
        table(sb, "Least surprising", ok.orderBy(col("bits_per_byte").asc()).limit(3));
        List<Row> failed = written.filter(col("error").isNotNull()).limit(3).collectAsList();
        if (!failed.isEmpty()) {
            sb.append("\nErrors (first ").append(failed.size()).append("):\n");
            for (Row r : failed) {
                sb.append("  ")
                        .append((String) r.getAs("path"))
                        .append(": ")
                        .append((String) r.getAs("error"))
                        .append('\n');
            }
        }
        return sb.toString();
    }

    private static void table(StringBuilder sb, String title, Dataset<Row> rows) {
        sb.append('\n').append(title).append(":\n");
        for (Row r : rows.collectAsList()) {
            sb.append(
                    String.format(
                            Locale.ROOT,
                            "  %6.3f bits/byte  %6d tokens  %s%n",
                            ((Number) r.getAs("bits_per_byte")).doubleValue(),
                            ((Number) r.getAs("tokens")).intValue(),
                            r.<String>getAs("path")));
        }
    }
}

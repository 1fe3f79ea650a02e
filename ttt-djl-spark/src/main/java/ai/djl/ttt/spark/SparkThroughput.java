package ai.djl.ttt.spark;

import ai.djl.inference.Predictor;
import ai.djl.translate.TranslateException;
import ai.djl.ttt.zoo.TextScore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Documents per second of scoring the same texts three ways in one JVM: one {@code Predictor}
 * ({@code batchPredict} in batches), {@link SparkScorer} on {@code local[1]} and on {@code
 * local[2]}. The model is loaded once before anything is timed ({@link ExecutorModels} keeps it
 * across the Spark sessions), each Spark session runs a small job before the timed one (its
 * start-up is not timed), every way runs once to warm up, then the ways take turns, {@code
 * --repeats} rounds, so a slow spell of a shared machine does not land on one way only; medians are
 * printed.
 */
@Command(
        name = "spark-throughput",
        mixinStandardHelpOptions = true,
        description = {
            "Scoring throughput: one Predictor against SparkScorer on local[1] and local[2], same"
                    + " texts, same JVM; medians of interleaved rounds."
        })
public final class SparkThroughput implements Callable<Integer> {

    @Option(names = "--model", required = true, description = "the model directory")
    Path model;

    @Option(
            names = "--input",
            defaultValue = "docs",
            description = "text files cut into the documents (default ${DEFAULT-VALUE})")
    Path input;

    @Option(
            names = "--docs",
            defaultValue = "96",
            description = "documents (default ${DEFAULT-VALUE})")
    int docs;

    @Option(
            names = "--doc-chars",
            defaultValue = "1000",
            description = "characters per document (default ${DEFAULT-VALUE})")
    int docChars;

    @Option(
            names = "--partitions",
            defaultValue = "4",
            description = "Spark partitions of the documents (default ${DEFAULT-VALUE})")
    int partitions;

    @Option(
            names = "--batch-size",
            defaultValue = "16",
            description = "rows per batchPredict, both ways (default ${DEFAULT-VALUE})")
    int batchSize;

    @Option(
            names = "--repeats",
            defaultValue = "5",
            description = "timed rounds (default ${DEFAULT-VALUE})")
    int repeats;

    /**
     * Runs the benchmark.
     *
     * @param args the command line
     */
    public static void main(String[] args) {
        System.exit(new CommandLine(new SparkThroughput()).execute(args));
    }

    /** {@inheritDoc} */
    @Override
    public Integer call() throws IOException, TranslateException {
        List<String> texts = documents();
        ModelLocation location = ModelLocation.of(model.toString());
        ExecutorModels.Loaded loaded = ExecutorModels.get(location);
        SparkScorer scorer =
                new SparkScorer()
                        .setModel(model.toString())
                        .setBatchSize(batchSize)
                        .setMaxTokens(Integer.MAX_VALUE);
        String[] ways = {"one Predictor", "Spark local[1]", "Spark local[2]"};
        double[][] seconds = new double[ways.length][repeats];
        for (int round = -1; round < repeats; round++) { // round -1 warms up
            for (int w = 0; w < ways.length; w++) {
                double s =
                        w == 0
                                ? predictorRun(loaded, texts)
                                : sparkRun(w == 1 ? "local[1]" : "local[2]", scorer, texts);
                if (round >= 0) {
                    seconds[w][round] = s;
                }
            }
        }
        System.out.printf(
                Locale.ROOT,
                "%d documents of %d characters, batch %d, %d Spark partitions, libtorch threads"
                        + " %s, %d rounds (median, min–max documents/s)%n",
                texts.size(),
                docChars,
                batchSize,
                partitions,
                System.getProperty("ai.djl.pytorch.num_threads", "default"),
                repeats);
        double base = texts.size() / median(seconds[0]);
        for (int w = 0; w < ways.length; w++) {
            double[] rates = Arrays.stream(seconds[w]).map(s -> texts.size() / s).toArray();
            double m = median(rates);
            System.out.printf(
                    Locale.ROOT,
                    "%-16s %8.1f docs/s  (%.1f–%.1f)  %.2f× one Predictor%n",
                    ways[w],
                    m,
                    Arrays.stream(rates).min().orElse(0),
                    Arrays.stream(rates).max().orElse(0),
                    m / base);
        }
        ExecutorModels.closeAll();
        return 0;
    }

    private List<String> documents() throws IOException {
        StringBuilder all = new StringBuilder();
        List<Path> files;
        try (Stream<Path> walk = Files.walk(input)) {
            files =
                    walk.filter(
                                    f ->
                                            Files.isRegularFile(f)
                                                    && (f.toString().endsWith(".md")
                                                            || f.toString().endsWith(".txt")))
                            .sorted()
                            .collect(Collectors.toList());
        }
        for (Path f : files) {
            all.append(Files.readString(f, StandardCharsets.UTF_8)).append('\n');
        }
        List<String> texts = new ArrayList<>();
        for (int i = 0; texts.size() < docs; i = (i + docChars) % Math.max(1, all.length())) {
            if (i + docChars > all.length()) {
                if (all.length() < docChars) {
                    throw new IllegalArgumentException(
                            input + " has fewer than --doc-chars=" + docChars + " characters");
                }
                i = 0;
            }
            texts.add(all.substring(i, i + docChars));
        }
        return texts;
    }

    private double predictorRun(ExecutorModels.Loaded loaded, List<String> texts)
            throws TranslateException {
        long start = System.nanoTime();
        try (Predictor<String, TextScore> predictor = loaded.model().newPredictor()) {
            for (int i = 0; i < texts.size(); i += batchSize) {
                predictor.batchPredict(texts.subList(i, Math.min(texts.size(), i + batchSize)));
            }
        }
        return (System.nanoTime() - start) / 1e9;
    }

    private double sparkRun(String master, SparkScorer scorer, List<String> texts) {
        SparkSession spark =
                SparkSession.builder()
                        .master(master)
                        .appName("ttt-djl spark-throughput")
                        .config("spark.ui.enabled", false)
                        .getOrCreate();
        try {
            spark.sparkContext().setLogLevel("WARN");
            List<Row> rows = texts.stream().map(RowFactory::create).collect(Collectors.toList());
            StructType schema = new StructType().add("text", DataTypes.StringType);
            Dataset<Row> frame =
                    spark.createDataFrame(
                            JavaSparkContext.fromSparkContext(spark.sparkContext())
                                    .parallelize(rows, partitions),
                            schema);
            // a first job in a new session pays Spark's start-up (closures, codegen): not timed
            scorer.transform(frame.limit(partitions))
                    .write()
                    .format("noop")
                    .mode(SaveMode.Overwrite)
                    .save();
            long start = System.nanoTime();
            scorer.transform(frame).write().format("noop").mode(SaveMode.Overwrite).save();
            return (System.nanoTime() - start) / 1e9;
        } finally {
            spark.stop();
        }
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}

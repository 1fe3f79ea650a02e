package ai.djl.ttt.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;
import org.apache.spark.ml.Pipeline;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.PipelineStage;
import org.apache.spark.ml.Transformer;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.streaming.StreamingQuery;
import org.apache.spark.sql.streaming.StreamingQueryException;
import org.apache.spark.sql.streaming.Trigger;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link SparkScorer} and {@link SparkGenerator} as Spark ML stages on {@code local[2]}: in a
 * {@code Pipeline} that is saved, loaded and run again with the same rows; on a Structured
 * Streaming source with the same rows as the batch job; and their params refused by name when out
 * of range.
 */
class SparkMlTest {

    @TempDir static Path models;

    private static SparkSession spark;
    private static Path modelDir;

    /** Each prompt three times, seeds 0, 1 and 2. */
    private static final StructType SCHEMA =
            new StructType()
                    .add("id", DataTypes.LongType, false)
                    .add("text", DataTypes.StringType, true)
                    .add("seed", DataTypes.IntegerType, true);

    private static final List<String> PROMPTS =
            List.of("the state learns its input. ", "a model reads ", "each token updates ");

    @BeforeAll
    static void setUp() throws IOException {
        modelDir = models.resolve("tiny-linear");
        TinyModel.trainAndSave(modelDir);
        spark = LocalSpark.start("ttt-djl-spark-ml-test");
    }

    @AfterAll
    static void tearDown() {
        LocalSpark.stop(spark);
    }

    private static List<Row> inputRows() {
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < 9; i++) {
            rows.add(RowFactory.create((long) i, PROMPTS.get(i / 3), i % 3));
        }
        return rows;
    }

    private static Dataset<Row> frame() {
        return spark.createDataFrame(inputRows(), SCHEMA);
    }

    /** Scoring, then sampled generation with per-row seeds, every setting off its default. */
    private static Pipeline pipeline() {
        SparkScorer scorer =
                new SparkScorer()
                        .setModel(modelDir.toString())
                        .setBatchSize(3)
                        .setMaxTokens(200)
                        .setLogLikelihoodCol("ll")
                        .setBitsPerByteCol("bpb")
                        .setErrorCol("score_error");
        SparkGenerator generator =
                new SparkGenerator()
                        .setModel(modelDir.toString())
                        .setBatchSize(2)
                        .setSeedCol("seed")
                        .setTemperature(1.0)
                        .setTopK(40)
                        .setTopP(0.95)
                        .setMaxNewTokens(12)
                        .setStopTokens('\n')
                        .setContinuationCol("more")
                        .setErrorCol("gen_error");
        return new Pipeline().setStages(new PipelineStage[] {scorer, generator});
    }

    @Test
    void aSavedAndLoadedPipelineGivesTheSameRows(@TempDir Path tmp) throws IOException {
        Dataset<Row> frame = frame();
        PipelineModel fitted = pipeline().fit(frame);
        Dataset<Row> first = fitted.transform(frame.repartition(1));
        List<Row> before = LocalSpark.byId(first);

        // every row scored and continued; the seed column, not the prompt alone, picks the text
        Set<String> continuations = new HashSet<>();
        for (Row row : before) {
            assertNull(row.getAs("score_error"), row.toString());
            assertNull(row.getAs("gen_error"), row.toString());
            assertNotNull(row.getAs("ll"));
            continuations.add(row.getAs("more"));
        }
        assertTrue(
                continuations.size() > 3,
                "3 prompts × seeds 0, 1, 2 should draw more than 3 texts: " + continuations);

        String path = tmp.resolve("pipeline").toString();
        fitted.write().overwrite().save(path);
        PipelineModel loaded = PipelineModel.load(path);
        Dataset<Row> again = loaded.transform(frame.repartition(3));
        assertEquals(first.schema(), again.schema());
        assertEquals(before, LocalSpark.byId(again));

        // the stages came back as themselves, every param set as it was
        Transformer[] stages = loaded.stages();
        SparkScorer scorer = assertInstanceOf(SparkScorer.class, stages[0]);
        SparkGenerator generator = assertInstanceOf(SparkGenerator.class, stages[1]);
        assertEquals(fitted.stages()[0].uid(), scorer.uid());
        assertEquals(modelDir.toString(), scorer.getModel());
        assertEquals(3, scorer.getBatchSize());
        assertEquals(200, scorer.getMaxTokens());
        assertEquals("seed", generator.getSeedCol());
        assertEquals(1.0, generator.getTemperature());
        assertEquals(40, generator.getTopK());
        assertEquals(0.95, generator.getTopP());
        assertEquals(12, generator.getMaxNewTokens());
        assertArrayEquals(new int[] {'\n'}, generator.getStopTokens());

        // the unfitted pipeline and a single stage save and load too
        String pipelinePath = tmp.resolve("unfitted").toString();
        pipeline().write().overwrite().save(pipelinePath);
        assertEquals(
                before, LocalSpark.byId(Pipeline.load(pipelinePath).fit(frame).transform(frame)));
        String stagePath = tmp.resolve("generator").toString();
        generator.write().overwrite().save(stagePath);
        SparkGenerator alone = SparkGenerator.load(stagePath);
        assertEquals(settings(generator), settings(alone));

        // the builder makes the same stage as the setters
        SparkScorer built =
                SparkScorer.builder()
                        .setModel(modelDir.toString())
                        .optLogLikelihoodCol("ll")
                        .optBitsPerByteCol("bpb")
                        .optErrorCol("score_error")
                        .optMaxTokens(200)
                        .build();
        List<Row> scoredByBuilder = LocalSpark.byId(built.transform(frame));
        // a ParamMap given to transform applies to that call only
        Dataset<Row> renamed =
                built.transform(frame, new ParamMap().put(built.bitsPerByteCol().w("b2")));
        assertTrue(Arrays.asList(renamed.columns()).contains("b2"));
        assertEquals("bpb", built.getBitsPerByteCol());
        for (int i = 0; i < before.size(); i++) {
            assertEquals(
                    (double) before.get(i).getAs("ll"),
                    (double) scoredByBuilder.get(i).getAs("ll"),
                    "row " + i);
        }
    }

    @Test
    void thePipelineRunsOnAStructuredStreamWithTheBatchRows(@TempDir Path tmp)
            throws IOException, TimeoutException, StreamingQueryException {
        // the rows as three JSON files in a folder: a file stream, bounded by AvailableNow
        Path in = Files.createDirectories(tmp.resolve("in"));
        List<Row> rows = inputRows();
        for (int f = 0; f < 3; f++) {
            StringBuilder lines = new StringBuilder();
            for (Row row : rows.subList(3 * f, 3 * f + 3)) {
                lines.append(
                        String.format(
                                "{\"id\": %d, \"text\": \"%s\", \"seed\": %d}%n",
                                row.getLong(0), row.getString(1), row.getInt(2)));
            }
            Files.writeString(in.resolve("part-" + f + ".json"), lines);
        }
        Dataset<Row> stream = spark.readStream().schema(SCHEMA).json(in.toString());
        PipelineModel fitted = pipeline().fit(frame());
        Dataset<Row> continued = fitted.transform(stream);
        assertTrue(continued.isStreaming());
        StreamingQuery query =
                continued
                        .writeStream()
                        .format("memory")
                        .queryName("ttt_stream")
                        .outputMode("append")
                        .option("maxFilesPerTrigger", 1) // three micro-batches
                        .option("checkpointLocation", tmp.resolve("checkpoint").toString())
                        .trigger(Trigger.AvailableNow())
                        .start();
        query.awaitTermination();
        assertTrue(query.exception().isEmpty());
        List<Row> streamed = LocalSpark.byId(spark.table("ttt_stream"));
        List<Row> batch = LocalSpark.byId(fitted.transform(frame()));
        assertEquals(9, streamed.size());
        assertEquals(batch, streamed);
        for (Row row : streamed) {
            assertNull(row.getAs("gen_error"), row.toString());
        }
    }

    @Test
    void badParamsAreRefusedWithTheParamsName() {
        SparkScorer scorer = new SparkScorer();
        assertEquals(
                "batchSize must be >= 1, got 0",
                assertThrows(IllegalArgumentException.class, () -> scorer.setBatchSize(0))
                        .getMessage());
        // the same check when the value comes in a ParamMap
        assertEquals(
                "batchSize must be >= 1, got -3",
                assertThrows(
                                IllegalArgumentException.class,
                                () -> scorer.copy(new ParamMap().put(scorer.batchSize().w(-3))))
                        .getMessage());
        assertEquals(
                "maxTokens must be >= 1, got 0",
                assertThrows(IllegalArgumentException.class, () -> scorer.setMaxTokens(0))
                        .getMessage());
        assertEquals(
                "inputCol must be a column name, got ' '",
                assertThrows(IllegalArgumentException.class, () -> scorer.setInputCol(" "))
                        .getMessage());
        assertTrue(
                assertThrows(IllegalArgumentException.class, () -> scorer.setModel(""))
                        .getMessage()
                        .startsWith("model must be a model directory's path"));
        assertEquals(TextTransformer.DEFAULT_BATCH_SIZE, scorer.getBatchSize());

        // columns are checked against the schema on the driver, also when a Pipeline is fitted
        Dataset<Row> frame = frame();
        assertEquals(
                "model is not set: call setModel with a model directory or an archive name",
                assertThrows(IllegalArgumentException.class, () -> scorer.transformSchema(SCHEMA))
                        .getMessage());
        scorer.setModel(modelDir.toString()).setInputCol("body");
        assertEquals(
                "no column 'body' (inputCol) to read the texts from; the columns are [id, text,"
                        + " seed]",
                assertThrows(
                                IllegalArgumentException.class,
                                () ->
                                        new Pipeline()
                                                .setStages(new PipelineStage[] {scorer})
                                                .fit(frame))
                        .getMessage());

        SparkGenerator generator = new SparkGenerator().setModel(modelDir.toString());
        assertEquals(
                "topP must be in (0, 1], got 1.5",
                assertThrows(IllegalArgumentException.class, () -> generator.setTopP(1.5))
                        .getMessage());
        assertEquals(
                "temperature must be finite and >= 0, got -1.0",
                assertThrows(IllegalArgumentException.class, () -> generator.setTemperature(-1))
                        .getMessage());
        assertEquals(
                "maxNewTokens: expected an integer >= 1, got \"0\"",
                assertThrows(IllegalArgumentException.class, () -> generator.setMaxNewTokens(0))
                        .getMessage());
        assertEquals(
                "stopTokens must be token ids >= 0, got [10, -1]",
                assertThrows(IllegalArgumentException.class, () -> generator.setStopTokens(10, -1))
                        .getMessage());
        assertEquals(
                "no column 'nope' (seedCol); the columns are [id, text, seed]",
                assertThrows(
                                IllegalArgumentException.class,
                                () -> generator.setSeedCol("nope").transform(frame))
                        .getMessage());
        assertEquals(
                "the seed column 'text' (seedCol) must be long, int or short, got string",
                assertThrows(
                                IllegalArgumentException.class,
                                () -> generator.setSeedCol("text").transformSchema(SCHEMA))
                        .getMessage());
    }

    @Test
    void everySettingIsAParamThatSparkFinds() {
        // what DefaultParamsWriter saves and Pipeline copies: the params Spark finds by reflection
        assertEquals(
                List.of(
                        "batchSize",
                        "bitsPerByteCol",
                        "errorCol",
                        "inputCol",
                        "logLikelihoodCol",
                        "maxTokens",
                        "model",
                        "tokensCol"),
                names(new SparkScorer().params()));
        assertEquals(
                List.of(
                        "batchSize",
                        "continuationCol",
                        "errorCol",
                        "inputCol",
                        "maxNewTokens",
                        "maxTokens",
                        "model",
                        "seed",
                        "seedCol",
                        "stopTokens",
                        "temperature",
                        "topK",
                        "topP"),
                names(new SparkGenerator().params()));
    }

    /** Every param's value as Spark saves it (JSON), or "unset". */
    @SuppressWarnings("unchecked")
    private static List<String> settings(TextTransformer<?> stage) {
        List<String> settings = new ArrayList<>();
        for (Param<?> p : stage.params()) {
            Param<Object> param = (Param<Object>) p;
            settings.add(
                    param.name()
                            + "="
                            + (stage.isDefined(param)
                                    ? param.jsonEncode(stage.getOrDefault(param))
                                    : "unset"));
        }
        return settings;
    }

    private static List<String> names(Param<?>[] params) {
        return Arrays.stream(params).map(Param::name).collect(Collectors.toList());
    }
}

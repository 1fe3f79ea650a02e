package ai.djl.ttt.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Application;
import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.ttt.zoo.TextScore;
import ai.djl.ttt.zoo.TttModelZoo;
import ai.djl.ttt.zoo.TttTranslatorFactory;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Scoring and generation on Spark {@code local[2]} with a model trained in the test: the same
 * results as one {@code Predictor} in this JVM, whatever the partitioning; bad rows get errors; one
 * model load per JVM.
 */
class SparkJobsTest {

    @TempDir static Path models;

    private static SparkSession spark;
    private static Path modelDir;
    private static List<String> texts;

    private static final StructType SCHEMA =
            new StructType()
                    .add("id", DataTypes.LongType, false)
                    .add("text", DataTypes.StringType, true);

    @BeforeAll
    static void setUp() throws IOException {
        modelDir = models.resolve("tiny-linear");
        TinyModel.trainAndSave(modelDir);
        texts = new ArrayList<>();
        for (int i = 0; i < 14; i++) {
            texts.add(TinyModel.text(1 + i % 5, 100 + i)); // 25 to 120 bytes
        }
        texts.add("Ünïcödé: the state → learns."); // multi-byte characters
        spark = LocalSpark.start("ttt-djl-spark-test");
    }

    @AfterAll
    static void tearDown() {
        LocalSpark.stop(spark);
    }

    private static Dataset<Row> frame(List<String> values) {
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < values.size(); i++) {
            rows.add(RowFactory.create((long) i, values.get(i)));
        }
        return spark.createDataFrame(rows, SCHEMA);
    }

    private static SparkScorer scorer(String location) {
        return SparkScorer.builder().setModel(location).optBatchSize(4).build();
    }

    @Test
    void sparkScoresEqualOnePredictorsScores() throws Exception {
        List<Row> rows =
                LocalSpark.byId(scorer(modelDir.toString()).transform(frame(texts).repartition(3)));
        // the reference: the zoo's own model by artifact id, one Predictor, one text at a time
        System.setProperty(TttModelZoo.MODELS_PROPERTY, models.toString());
        Criteria<String, TextScore> criteria =
                Criteria.builder()
                        .setTypes(String.class, TextScore.class)
                        .optApplication(Application.NLP.TEXT_GENERATION)
                        .optGroupId(TttModelZoo.GROUP_ID)
                        .optArtifactId("tiny-linear")
                        .build();
        try (ZooModel<String, TextScore> model = criteria.loadModel();
                Predictor<String, TextScore> predictor = model.newPredictor()) {
            assertEquals(texts.size(), rows.size());
            for (int i = 0; i < texts.size(); i++) {
                Row row = rows.get(i);
                TextScore expected = predictor.predict(texts.get(i));
                assertNull(row.getAs("error"), "row " + i);
                double ll = row.getAs("log_likelihood");
                assertEquals(
                        expected.totalLogLikelihood(),
                        ll,
                        1e-5 * Math.abs(expected.totalLogLikelihood()),
                        "row " + i);
                assertEquals(expected.tokens().length, (int) row.getAs("tokens"), "row " + i);
                double bpb = row.getAs("bits_per_byte");
                assertEquals(expected.bitsPerByte(), bpb, 1e-5 * expected.bitsPerByte());
                if (i < 14) { // the grammar it was trained on: below a uniform guess's 8 bits
                    assertTrue(bpb < 6, "bits per byte of a trained model: " + bpb);
                }
            }
        } finally {
            System.clearProperty(TttModelZoo.MODELS_PROPERTY);
        }
    }

    @Test
    void scoresDoNotDependOnPartitioning() {
        SparkScorer scorer = scorer(modelDir.toString());
        List<Row> one = LocalSpark.byId(scorer.transform(frame(texts).repartition(1)));
        List<Row> four = LocalSpark.byId(scorer.transform(frame(texts).repartition(4)));
        assertEquals(texts.size(), four.size());
        for (int i = 0; i < texts.size(); i++) {
            assertNotNull(one.get(i).getAs("log_likelihood"));
            assertEquals(one.get(i), four.get(i));
        }
    }

    @Test
    void generationWithPerRowSeedsIsTheSameAcrossPartitionings() throws Exception {
        // each prompt three times with seeds 0, 1, 2: sampled at temperature 1
        StructType schema =
                new StructType()
                        .add("id", DataTypes.LongType, false)
                        .add("prompt", DataTypes.StringType, true)
                        .add("seed", DataTypes.IntegerType, true);
        List<String> prompts = List.of("the state ", "a model l", "each token ");
        List<Row> input = new ArrayList<>();
        for (int i = 0; i < 9; i++) {
            input.add(RowFactory.create((long) i, prompts.get(i / 3), i % 3));
        }
        Dataset<Row> frame = spark.createDataFrame(input, schema);
        SparkGenerator generator =
                SparkGenerator.builder()
                        .setModel(modelDir.toString())
                        .optInputCol("prompt")
                        .optSeedCol("seed")
                        .optTemperature(1.0)
                        .optMaxNewTokens(16)
                        .optBatchSize(2)
                        .build();
        List<Row> one = LocalSpark.byId(generator.transform(frame.repartition(1)));
        List<Row> four = LocalSpark.byId(generator.transform(frame.repartition(4)));
        assertEquals(one, four);
        Set<String> distinct = new HashSet<>();
        for (Row row : one) {
            assertNull(row.getAs("error"));
            distinct.add(row.getAs("continuation"));
        }
        assertTrue(distinct.size() > 3, "seeds 0, 1, 2 should draw different texts: " + distinct);

        // a row equals the zoo's generation translator run alone with that row's seed
        for (Row row : List.of(one.get(0), one.get(4), one.get(8))) {
            Criteria<String, String> criteria =
                    Criteria.builder()
                            .setTypes(String.class, String.class)
                            .optModelPath(modelDir)
                            .optTranslatorFactory(new TttTranslatorFactory())
                            .optArgument("temperature", 1.0)
                            .optArgument("maxNewTokens", 16)
                            .optArgument("seed", (long) (int) row.getAs("seed"))
                            .build();
            try (ZooModel<String, String> model = criteria.loadModel();
                    Predictor<String, String> predictor = model.newPredictor()) {
                assertEquals(predictor.predict(row.getAs("prompt")), row.getAs("continuation"));
            }
        }
    }

    @Test
    void derivedSeedsAreTheSameAcrossPartitionings() {
        SparkGenerator generator =
                SparkGenerator.builder()
                        .setModel(modelDir.toString())
                        .optTemperature(0.9)
                        .optTopK(20)
                        .optMaxNewTokens(12)
                        .build();
        List<String> prompts = texts.subList(0, 8);
        List<Row> one = LocalSpark.byId(generator.transform(frame(prompts).repartition(1)));
        List<Row> three = LocalSpark.byId(generator.transform(frame(prompts).repartition(3)));
        assertEquals(one, three);
        assertNotEquals(
                SparkGenerator.rowSeed(42, prompts.get(0)),
                SparkGenerator.rowSeed(42, prompts.get(1)));
        assertNotEquals(
                SparkGenerator.rowSeed(42, prompts.get(0)),
                SparkGenerator.rowSeed(43, prompts.get(0)));
    }

    @Test
    void badRowsGetAnErrorAndTheJobGoesOn() {
        String longText = TinyModel.text(40, 9); // about 1000 bytes
        List<String> values = new ArrayList<>();
        values.add(texts.get(0));
        values.add(null);
        values.add("");
        values.add("x"); // one byte: nothing to score
        values.add(longText);
        values.add(texts.get(1));
        List<Row> rows =
                LocalSpark.byId(
                        SparkScorer.builder()
                                .setModel(modelDir.toString())
                                .optMaxTokens(500)
                                .optErrorCol("why")
                                .optLogLikelihoodCol("ll")
                                .build()
                                .transform(frame(values).repartition(2)));
        assertEquals(6, rows.size());
        for (int i : new int[] {0, 5}) {
            assertNull(rows.get(i).getAs("why"));
            assertNotNull(rows.get(i).getAs("ll"));
        }
        assertEquals("the text is null", rows.get(1).getAs("why"));
        assertEquals("the text is empty", rows.get(2).getAs("why"));
        assertEquals("the text has 1 token(s), fewer than the 2 needed", rows.get(3).getAs("why"));
        assertTrue(
                ((String) rows.get(4).getAs("why")).contains("more than maxTokens = 500"),
                (String) rows.get(4).getAs("why"));
        for (int i = 1; i <= 4; i++) {
            assertNull(rows.get(i).getAs("ll"));
            assertNull(rows.get(i).getAs("tokens"));
            assertNull(rows.get(i).getAs("bits_per_byte"));
        }

        // generation: a null seed and an empty prompt fail their rows only
        StructType schema = SCHEMA.add("seed", DataTypes.LongType, true);
        List<Row> input =
                List.of(
                        RowFactory.create(0L, "the state ", 5L),
                        RowFactory.create(1L, "the state ", null),
                        RowFactory.create(2L, "", 6L));
        List<Row> generated =
                LocalSpark.byId(
                        SparkGenerator.builder()
                                .setModel(modelDir.toString())
                                .optSeedCol("seed")
                                .optMaxNewTokens(4)
                                .build()
                                .transform(spark.createDataFrame(input, schema)));
        assertNotNull(generated.get(0).getAs("continuation"));
        assertNull(generated.get(0).getAs("error"));
        assertEquals("the seed is null", generated.get(1).getAs("error"));
        assertEquals("the text is empty", generated.get(2).getAs("error"));
        assertNull(generated.get(1).getAs("continuation"));
    }

    @Test
    void theModelIsLoadedOncePerJvm() {
        ExecutorModels.closeAll();
        assertEquals(0, ExecutorModels.loads());
        SparkScorer scorer = scorer(modelDir.toString());
        assertEquals(texts.size(), scorer.transform(frame(texts).repartition(4)).count());
        LocalSpark.byId(scorer.transform(frame(texts).repartition(4)));
        LocalSpark.byId(
                SparkGenerator.builder()
                        .setModel(modelDir.toString())
                        .optMaxNewTokens(4)
                        .build()
                        .transform(frame(texts.subList(0, 4)).repartition(4)));
        // 12 tasks on 2 threads, scoring and generation: one load
        assertEquals(1, ExecutorModels.loads());
    }

    @Test
    void aModelShippedAsAnArchiveScoresAsTheDirectory(@TempDir Path tmp) throws IOException {
        Path zip = tmp.resolve("tiny-model.zip");
        try (OutputStream os = Files.newOutputStream(zip);
                ZipOutputStream out = new ZipOutputStream(os);
                Stream<Path> files = Files.list(modelDir)) {
            for (Path f : files.sorted().collect(Collectors.toList())) {
                // the archive holds the model's folder, as `zip -r tiny-model.zip tiny-linear`
                out.putNextEntry(new ZipEntry("tiny-linear/" + f.getFileName()));
                Files.copy(f, out);
                out.closeEntry();
            }
        }
        spark.sparkContext().addArchive(zip.toUri() + "#shipped-model");
        List<Row> shipped = LocalSpark.byId(scorer("shipped-model").transform(frame(texts)));
        List<Row> local = LocalSpark.byId(scorer(modelDir.toString()).transform(frame(texts)));
        assertEquals(local, shipped);
    }

    @Test
    void aMissingModelFailsTheJobWithTheLocationInTheMessage() {
        Exception e =
                assertThrows(
                        Exception.class,
                        () -> scorer("/no/such/model").transform(frame(texts)).collectAsList());
        StringBuilder messages = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            messages.append(t.getMessage()).append('\n');
        }
        assertTrue(
                messages.toString()
                        .contains(
                                "no model directory (a folder with config.json) at '/no/such/model'"),
                messages.toString());
    }

    @Test
    void wrongColumnsAndSettingsAreRejectedOnTheDriver() {
        Dataset<Row> frame = frame(texts);
        IllegalArgumentException noColumn =
                assertThrows(
                        IllegalArgumentException.class,
                        () ->
                                SparkScorer.builder()
                                        .setModel(modelDir.toString())
                                        .optInputCol("body")
                                        .build()
                                        .transform(frame));
        assertEquals(
                "no column 'body' (inputCol) to read the texts from; the columns are [id, text]",
                noColumn.getMessage());
        IllegalArgumentException notText =
                assertThrows(
                        IllegalArgumentException.class,
                        () ->
                                SparkScorer.builder()
                                        .setModel(modelDir.toString())
                                        .optInputCol("id")
                                        .build()
                                        .transform(frame));
        assertEquals(
                "the text column 'id' (inputCol) must be a string column, got bigint",
                notText.getMessage());
        IllegalArgumentException taken =
                assertThrows(
                        IllegalArgumentException.class,
                        () ->
                                SparkScorer.builder()
                                        .setModel(modelDir.toString())
                                        .optTokensCol("id")
                                        .build()
                                        .transform(frame));
        assertTrue(taken.getMessage().startsWith("the output column(s) [id] exist already"));
        assertThrows(
                IllegalArgumentException.class,
                () -> SparkScorer.builder().setModel("m").optBatchSize(0).build());
        assertThrows(IllegalArgumentException.class, () -> SparkScorer.builder().build());
        IllegalArgumentException badTopP =
                assertThrows(
                        IllegalArgumentException.class,
                        () -> SparkGenerator.builder().setModel("m").optTopP(1.5).build());
        assertEquals("topP must be in (0, 1], got 1.5", badTopP.getMessage());
    }
}

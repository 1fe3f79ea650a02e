package ai.djl.ttt.zoo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.MalformedModelException;
import ai.djl.modality.Classifications;
import ai.djl.modality.cv.Image;
import ai.djl.ndarray.NDList;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.io.HostileFiles;
import ai.djl.ttt.lm.CausalLm;
import ai.djl.ttt.lm.TestModels;
import ai.djl.ttt.training.ModelDirectory;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The zoo beside other libraries' models and with damaged directories: foreign folders skipped,
 * {@link ModelNotFoundException} where DJL's search expects it, clear messages through {@code
 * optModelPath} too.
 */
class ZooBadInputTest {

    /** A Hugging Face model's config.json: another model_type, keys TttConfig does not know. */
    static final String BERT_CONFIG =
            "{\"architectures\": [\"BertModel\"], \"model_type\": \"bert\", \"hidden_size\": 768,"
                    + " \"type_vocab_size\": 2, \"vocab_size\": 30522}";

    /** A config TttConfig refuses: a hidden size that the heads do not divide. */
    static final String INDIVISIBLE_CONFIG = "{\"hidden_size\": 30, \"num_attention_heads\": 4}";

    @AfterEach
    void clear() {
        System.clearProperty(TttModelZoo.MODELS_PROPERTY);
    }

    @Test
    void foreignFoldersAreSkippedAndDoNotStopASearch(@TempDir Path models) throws Exception {
        TestModels.saved(models.resolve("tiny"));
        HostileFiles.folderWithConfig(models.resolve("bert-base"), BERT_CONFIG);
        HostileFiles.folderWithConfig(models.resolve("array"), "[1, 2]");
        System.setProperty(TttModelZoo.MODELS_PROPERTY, models.toString());

        assertEquals(List.of("tiny"), ZooCriteria.names(new TttModelZoo()));
        Criteria<NDList, NDList> byFilter = ZooCriteria.linearByFilter();
        try (ZooModel<NDList, NDList> model = byFilter.loadModel()) {
            assertTrue(model.getBlock() instanceof CausalLm);
            assertEquals("tiny", model.getName(), "a zoo model is named after its folder");
        }
    }

    @Test
    void aMalformedConfigIsOneLineNamingTheFileLineAndColumn(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("tiny");
        TestModels.saved(dir);
        Path config = dir.resolve("config.json");
        Files.writeString(config, "{\"hidden_size\": 64,\n \"vocab_size\": }");
        // ttt generate's path, and the zoo's for a saved model
        MalformedModelException saved =
                assertThrows(
                        MalformedModelException.class,
                        () -> ModelDirectory.load(dir, ai.djl.Device.cpu()));
        assertEquals(config + ": not valid JSON at line 2 column 16", saved.getMessage());
        // DJL's own loader (optModelPath)
        IOException byPath =
                assertThrows(IOException.class, ZooCriteria.documentedOptModelPath(dir)::loadModel);
        assertTrue(
                byPath.getMessage()
                        .startsWith(
                                dir
                                        + " is not a ttt-djl model folder: config.json"
                                        + " is not readable JSON (at line 2 column 16)"),
                byPath.getMessage());
        for (String message : List.of(saved.getMessage(), byPath.getMessage())) {
            assertEquals(1, message.lines().count(), message);
            assertFalse(message.contains("com.google") || message.contains("http"), message);
        }
    }

    @Test
    void listingNeverThrowsBesideOtherLibrariesModelsAndTheirSearchesAreNotFound(
            @TempDir Path models) throws Exception {
        TestModels.saved(models.resolve("tiny"));
        Path bert = models.resolve("bert-base");
        HostileFiles.folderWithConfig(bert, BERT_CONFIG);
        // the folder is one TttConfig rejects (keys it does not know): listing must not parse it
        assertThrows(
                IllegalArgumentException.class, () -> TttConfig.load(bert.resolve("config.json")));
        Path broken = models.resolve("broken");
        HostileFiles.folderWithConfig(broken, INDIVISIBLE_CONFIG);
        System.setProperty(TttModelZoo.MODELS_PROPERTY, models.toString());

        TttModelZoo zoo = new TttModelZoo();
        assertEquals(List.of("broken", "tiny"), ZooCriteria.names(zoo));
        // DJL's search for another library's model asks every zoo's loaders in turn and goes on
        // only on ModelNotFoundException; optModelZoo runs that step for this zoo alone (the
        // other zoos on the test classpath would go to the network)
        Criteria<Image, Classifications> otherTypes =
                Criteria.builder()
                        .setTypes(Image.class, Classifications.class)
                        .optModelZoo(zoo)
                        .build();
        assertThrows(ModelNotFoundException.class, otherTypes::loadModel);
        Criteria<NDList, NDList> otherName =
                Criteria.builder()
                        .setTypes(NDList.class, NDList.class)
                        .optModelZoo(zoo)
                        .optArtifactId("bert-base")
                        .build();
        assertThrows(ModelNotFoundException.class, otherName::loadModel);
    }

    @Test
    void optModelPathToAFolderThatIsNoTttModelSaysWhatItLacks(@TempDir Path tmp) throws Exception {
        Path notes = tmp.resolve("notes");
        Files.createDirectories(notes);
        Files.writeString(notes.resolve("readme.txt"), "not a model");
        FileNotFoundException noConfig =
                assertThrows(
                        FileNotFoundException.class,
                        ZooCriteria.documentedOptModelPath(notes)::loadModel);
        assertEquals(
                notes
                        + " is not a ttt-djl model folder: it has no config.json (it holds"
                        + " readme.txt; expected config.json, ttt-lm-NNNN.params and a"
                        + " tokenizer, as 'ttt train' writes them)",
                noConfig.getMessage());

        Path bert = tmp.resolve("bert-base");
        HostileFiles.folderWithConfig(bert, BERT_CONFIG);
        Files.writeString(bert.resolve("model.safetensors"), "");
        IOException foreign =
                assertThrows(
                        IOException.class, ZooCriteria.documentedOptModelPath(bert)::loadModel);
        assertTrue(
                foreign.getMessage()
                        .startsWith(
                                bert
                                        + " is not a ttt-djl model folder: config.json has"
                                        + " model_type \"bert\", not \"ttt\" (expected"
                                        + " config.json, ttt-lm-NNNN.params"),
                foreign.getMessage());

        Path broken = tmp.resolve("broken");
        TestModels.saved(broken);
        Files.writeString(broken.resolve("config.json"), INDIVISIBLE_CONFIG);
        IOException invalid =
                assertThrows(
                        IOException.class, ZooCriteria.documentedOptModelPath(broken)::loadModel);
        assertTrue(
                invalid.getMessage().startsWith(broken.resolve("config.json") + ": "),
                invalid.getMessage());
        assertTrue(invalid.getMessage().contains("divisible"), invalid.getMessage());

        // a path where nothing is: DJL's own answer, before any ttt-djl code runs
        ModelNotFoundException missing =
                assertThrows(
                        ModelNotFoundException.class,
                        ZooCriteria.documentedOptModelPath(tmp.resolve("nothing"))::loadModel);
        assertEquals("No model matching the criteria is found.", missing.getMessage());
    }

    @Test
    void aMissingModelsFolderOrAnUnreadableOneListsNothing(@TempDir Path tmp) {
        System.setProperty(TttModelZoo.MODELS_PROPERTY, tmp.resolve("none").toString());
        assertEquals(List.of(), ZooCriteria.names(new TttModelZoo()));
    }

    @Test
    void aBrokenModelIsNotFoundWhenNotAskedForAndMalformedWhenAskedFor(@TempDir Path models)
            throws Exception {
        Path broken = models.resolve("broken");
        HostileFiles.folderWithConfig(broken, INDIVISIBLE_CONFIG);
        TttModelLoader loader = new TttModelLoader(broken);
        // DJL's search of every zoo (no group, no artifact): not found, so the search goes on
        Criteria<NDList, NDList> search =
                Criteria.builder().setTypes(NDList.class, NDList.class).build();
        ModelNotFoundException notFound =
                assertThrows(ModelNotFoundException.class, () -> loader.loadModel(search));
        assertTrue(notFound.getMessage().startsWith("broken: "), notFound.getMessage());
        assertTrue(notFound.getMessage().contains("divisible"), notFound.getMessage());
        // asked for by name: the real error
        Criteria<NDList, NDList> named =
                Criteria.builder()
                        .setTypes(NDList.class, NDList.class)
                        .optArtifactId("broken")
                        .build();
        MalformedModelException malformed =
                assertThrows(MalformedModelException.class, () -> loader.loadModel(named));
        assertTrue(malformed.getMessage().contains("divisible"), malformed.getMessage());
    }

    @Test
    void truncatedWeightsThroughOptModelPathSaySo(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("tiny");
        TestModels.saved(dir);
        Path params = dir.resolve("ttt-lm-0000.params");
        byte[] bytes = Files.readAllBytes(params);
        Files.write(params, Arrays.copyOf(bytes, bytes.length * 2 / 3));
        Criteria<NDList, NDList> criteria =
                Criteria.builder().setTypes(NDList.class, NDList.class).optModelPath(dir).build();
        MalformedModelException e =
                assertThrows(MalformedModelException.class, criteria::loadModel);
        assertTrue(
                e.getMessage()
                        .startsWith(
                                "the weights are corrupt or truncated (the file ends before every"
                                        + " parameter was read)"),
                e.getMessage());
    }

    @Test
    void mismatchedWeightsThroughOptModelPathNameTheDifference(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("tiny");
        TestModels.saved(dir);
        String config = Files.readString(dir.resolve("config.json"), StandardCharsets.UTF_8);
        Files.writeString(
                dir.resolve("config.json"),
                config.replace("\"ttt_base_lr\": 1.0", "\"ttt_base_lr\": 0.5"));
        Criteria<NDList, NDList> criteria =
                Criteria.builder().setTypes(NDList.class, NDList.class).optModelPath(dir).build();
        MalformedModelException e =
                assertThrows(MalformedModelException.class, criteria::loadModel);
        assertTrue(e.getMessage().contains("ttt_base_lr: 1.0 vs 0.5"), e.getMessage());
    }
}

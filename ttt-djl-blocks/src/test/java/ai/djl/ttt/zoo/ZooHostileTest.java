package ai.djl.ttt.zoo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.MalformedModelException;
import ai.djl.modality.Classifications;
import ai.djl.modality.cv.Image;
import ai.djl.ndarray.NDList;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.ttt.io.HostileFiles;
import ai.djl.ttt.lm.CausalLm;
import ai.djl.ttt.lm.TestModels;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The zoo with hostile folders (issue 30, items 2 and 5): an oversized config is never read, a
 * named broken folder says what is wrong, a broken folder never hides a valid one, and crafted
 * weights fail with {@link MalformedModelException} through {@code Criteria.loadModel}. Run under
 * {@code -Xmx512m} (the pom's {@code hostile-inputs} execution); the timeout only stops a run that
 * went wrong.
 */
@Timeout(30)
class ZooHostileTest {

    @AfterEach
    void clear() {
        System.clearProperty(TttModelZoo.MODELS_PROPERTY);
    }

    /**
     * A 500 MB config.json that takes no disk (a sparse file): one JSON string that a reader would
     * have to hold whole, more than this JVM's heap.
     */
    private static void sparseConfig(Path dir) throws Exception {
        Files.createDirectories(dir);
        try (RandomAccessFile f = new RandomAccessFile(dir.resolve("config.json").toFile(), "rw")) {
            f.write("{\"note\": \"".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            f.setLength(500_000_000L);
        }
    }

    @Test
    void anOversizedConfigIsNotReadAndANamedRequestSaysWhy(@TempDir Path models) throws Exception {
        sparseConfig(models.resolve("huge"));
        TestModels.saved(models.resolve("tiny"));
        System.setProperty(TttModelZoo.MODELS_PROPERTY, models.toString());
        TttModelZoo zoo = new TttModelZoo();
        assertEquals(List.of("huge", "tiny"), ZooCriteria.names(zoo));
        assertEquals(
                "config.json is 500000000 bytes, over the 1048576 bytes the zoo reads"
                        + " (ai.djl.ttt.zoo.maxConfigBytes); not read",
                ConfigSniffer.sniff(models.resolve("huge/config.json")).reason());
        // another library's model: every loader answers "not found", the huge file unread
        Criteria<Image, Classifications> other =
                Criteria.builder()
                        .setTypes(Image.class, Classifications.class)
                        .optModelZoo(zoo)
                        .build();
        assertThrows(ModelNotFoundException.class, other::loadModel);
        MalformedModelException e =
                assertThrows(
                        MalformedModelException.class, ZooCriteria.named(zoo, "huge")::loadModel);
        assertEquals(
                models.resolve("huge/config.json")
                        + " is 500000000 bytes; a config.json is at most 1048576 bytes (a real one"
                        + " is a few kilobytes)",
                e.getMessage());
    }

    @Test
    void aTruncatedConfigOfANamedArtifactSaysWhatIsWrong(@TempDir Path models) throws Exception {
        Path dir = TestModels.saved(models.resolve("cut"));
        String config = Files.readString(dir.resolve("config.json"));
        Files.writeString(dir.resolve("config.json"), config.substring(0, config.length() / 2));
        System.setProperty(TttModelZoo.MODELS_PROPERTY, models.toString());
        MalformedModelException e =
                assertThrows(
                        MalformedModelException.class,
                        ZooCriteria.named(new TttModelZoo(), "cut")::loadModel);
        assertTrue(
                e.getMessage().startsWith(dir.resolve("config.json") + ": not valid JSON at line "),
                e.getMessage());
    }

    @Test
    void aBrokenFolderBeforeAValidOneDoesNotEndAFilteredSearch(@TempDir Path models)
            throws Exception {
        Path broken = models.resolve("a-broken");
        HostileFiles.folderWithConfig(broken, "{\"model_type\": \"ttt\", \"hidden_size\":");
        TestModels.saved(models.resolve("b-valid"));
        System.setProperty(TttModelZoo.MODELS_PROPERTY, models.toString());
        Criteria<NDList, NDList> byFilter = ZooCriteria.linearByFilter();
        try (ZooModel<NDList, NDList> model = byFilter.loadModel()) {
            // the only model that loads is the valid folder's
            assertTrue(model.getBlock() instanceof CausalLm);
        }
    }

    @Test
    void configVerdictsAreCachedUntilTheFileChanges(@TempDir Path tmp) throws Exception {
        Path config = tmp.resolve("config.json");
        Files.writeString(config, "{\"model_type\": \"bert\"}");
        ConfigSniffer.Verdict first = ConfigSniffer.sniff(config);
        assertEquals(ConfigSniffer.Kind.FOREIGN, first.kind());
        assertSame(first, ConfigSniffer.sniff(config), "unchanged: from the cache");
        Files.writeString(config, "{\"model_type\": \"ttt\"}");
        Files.setLastModifiedTime(config, FileTime.fromMillis(System.currentTimeMillis() + 5000));
        ConfigSniffer.Verdict second = ConfigSniffer.sniff(config);
        assertNotSame(first, second);
        assertEquals(ConfigSniffer.Kind.TTT, second.kind());
    }

    @Test
    void onlyTheModelTypeIsReadOfAConfig(@TempDir Path tmp) throws Exception {
        // model_type first, then a value that is not JSON at all: the zoo stops before it
        Path config = tmp.resolve("config.json");
        Files.writeString(config, "{\"model_type\": \"bert\", \"x\": not json at all");
        assertEquals(
                new ConfigSniffer.Verdict(
                        ConfigSniffer.Kind.FOREIGN,
                        "config.json has model_type \"bert\", not \"ttt\""),
                ConfigSniffer.sniff(config));
    }

    @Test
    void craftedOfficialWeightsAreMalformedThroughCriteria(@TempDir Path models) throws Exception {
        Path dir =
                HostileFiles.officialCheckpoint(
                        models.resolve("big-vocab"),
                        HostileFiles.tinyConfigWith("vocab_size", 25000000));
        System.setProperty(TttModelZoo.MODELS_PROPERTY, models.toString());
        MalformedModelException e =
                assertThrows(
                        MalformedModelException.class,
                        ZooCriteria.named(new TttModelZoo(), "big-vocab")::loadModel);
        assertEquals(
                dir.resolve("model.safetensors")
                        + " does not match the config: model.embed_tokens.weight is (64, 32) in"
                        + " the file but vocab_size 25000000 and hidden_size 32 make it"
                        + " (25000000, 32)",
                e.getMessage());
    }

    @Test
    void anOfficialFolderIsCheckedAgainstItsConfigBeforeItsTensorsAreRead(@TempDir Path models)
            throws Exception {
        // 600 MB of zeros (about 600 kB deflated) whose shape matches its data: more than this
        // JVM's heap, and no tensor of the config's model
        Path dir = models.resolve("bomb");
        HostileFiles.folderWithConfig(dir, HostileFiles.tinyConfig().toJson());
        HostileFiles.npz(
                dir.resolve("model.npz"),
                "model.embed_tokens.weight",
                "150000000, 1",
                600_000_000L,
                true);
        System.setProperty(TttModelZoo.MODELS_PROPERTY, models.toString());
        MalformedModelException e =
                assertThrows(
                        MalformedModelException.class,
                        ZooCriteria.named(new TttModelZoo(), "bomb")::loadModel);
        assertEquals(
                dir.resolve("model.npz")
                        + " does not match the config: num_hidden_layers is 2 but the file holds no"
                        + " model.layers.N tensors",
                e.getMessage());
    }

    @Test
    void aParamsLengthFieldBeyondTheFileIsMalformedThroughOptModelPath(@TempDir Path tmp)
            throws Exception {
        Path dir = TestModels.saved(tmp.resolve("tiny"));
        // the embedding's byte count (256 x 32 float32), the first array of the file
        Path params = HostileFiles.withEmbeddingByteCount(dir, Integer.MAX_VALUE);
        MalformedModelException e =
                assertThrows(
                        MalformedModelException.class,
                        ZooCriteria.documentedOptModelPath(dir)::loadModel);
        assertTrue(
                e.getMessage()
                        .startsWith(
                                params
                                        + " is corrupt: array 0 declares 2147483647 bytes of data but"),
                e.getMessage());
        // the folder's serving.properties names the block factory, so the plain Criteria too
        Criteria<NDList, NDList> plain =
                Criteria.builder().setTypes(NDList.class, NDList.class).optModelPath(dir).build();
        MalformedModelException direct =
                assertThrows(MalformedModelException.class, plain::loadModel);
        assertTrue(
                direct.getMessage().startsWith(params + " is corrupt: array 0"),
                direct.getMessage());
    }
}

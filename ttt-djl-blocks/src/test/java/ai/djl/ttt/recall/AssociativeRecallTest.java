package ai.djl.ttt.recall;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The MQAR generator makes well-posed sequences, reproducibly. */
class AssociativeRecallTest {

    @Test
    void everyQueryAsksForAnEarlierKeyAndHasOneAnswer() {
        for (AssociativeRecall task :
                List.of(
                        AssociativeRecall.of(64, 8, 64),
                        AssociativeRecall.of(256, 32, 256),
                        AssociativeRecall.of(17, 8, 32),
                        new AssociativeRecall(128, 4, 512, 1.0))) {
            for (AssociativeRecall.Sample s : task.generate(50, 7)) {
                assertEquals(task.length(), s.tokens().length);
                Map<Long, Long> pairs = new HashMap<>();
                Set<Long> values = new HashSet<>();
                int keys = (task.vocabularySize() - 1) / 2;
                for (int p = 0; p < task.pairs(); p++) {
                    long key = s.tokens()[2 * p];
                    long value = s.tokens()[2 * p + 1];
                    assertTrue(key >= 1 && key <= keys, "key " + key);
                    assertTrue(value > keys && value < task.vocabularySize(), "value " + value);
                    assertFalse(pairs.containsKey(key), "keys are distinct");
                    assertTrue(values.add(value), "values are distinct");
                    pairs.put(key, value);
                }
                int[] queries = s.queryPositions();
                assertEquals(task.pairs(), queries.length, "every key is queried once");
                Set<Long> asked = new HashSet<>();
                for (int q : queries) {
                    assertTrue(q >= 2 * task.pairs(), "queries come after the context");
                    long key = s.tokens()[q];
                    assertTrue(asked.add(key), "no key is asked twice");
                    // the answer is the value paired with the key in the context
                    assertEquals(pairs.get(key), s.targets()[q]);
                    assertEquals(s.targets()[q], s.tokens()[q + 1], "teacher forcing");
                }
                for (int i = 2 * task.pairs(); i < task.length(); i++) {
                    if (s.tokens()[i] == AssociativeRecall.PAD) {
                        assertEquals(AssociativeRecall.IGNORED, s.targets()[i]);
                    }
                }
            }
        }
    }

    @Test
    void seedsReproduceAndDiffer() {
        AssociativeRecall task = AssociativeRecall.of(128, 16, 256);
        List<AssociativeRecall.Sample> a = task.generate(5, 42);
        List<AssociativeRecall.Sample> b = task.generate(5, 42);
        List<AssociativeRecall.Sample> c = task.generate(5, 43);
        for (int i = 0; i < 5; i++) {
            assertArrayEquals(a.get(i).tokens(), b.get(i).tokens());
            assertArrayEquals(a.get(i).targets(), b.get(i).targets());
        }
        assertFalse(java.util.Arrays.equals(a.get(0).tokens(), c.get(0).tokens()));
    }

    @Test
    void powerLawPutsMostQueriesNearTheContext() {
        AssociativeRecall task = AssociativeRecall.of(256, 8, 1024);
        int near = 0;
        int total = 0;
        for (AssociativeRecall.Sample s : task.generate(200, 3)) {
            for (int q : s.queryPositions()) {
                near += q < 2 * task.pairs() + 256 ? 1 : 0;
                total++;
            }
        }
        // (slot + 1)^(−0.99) over 504 slots: the first 128 slots carry about 78 % of the mass
        assertTrue(near > 0.6 * total && near < total, near + " of " + total);
    }

    @Test
    void impossibleSettingsAreClearErrors() {
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> AssociativeRecall.of(10, 8, 64));
        assertTrue(e.getMessage().contains("need at least 17 tokens"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> AssociativeRecall.of(64, 8, 30));
        assertTrue(e.getMessage().contains("length >= 4 x pairs = 32"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new AssociativeRecall(64, 4, 64, 0));
        assertThrows(IllegalArgumentException.class, () -> AssociativeRecall.of(64, 0, 64));
    }
}

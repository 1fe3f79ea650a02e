package ai.djl.ttt.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.Model;
import ai.djl.ttt.config.LayerType;
import ai.djl.ttt.lm.CausalLm;
import ai.djl.ttt.lm.TestModels;
import ai.djl.ttt.runtime.Precision;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link LmTraining#meanLossByToken}: the windows' loss computed one token per call equals the
 * windowed forward's in float32, and moves (slightly) in float16, where every product of a single
 * row goes through the float16 weights.
 */
class LossByTokenTest {

    @Test
    void byTokenEqualsTheWindowedLossAndFloat16StaysClose() {
        long[] tokens = new long[3 * 24 + 5];
        Random random = new Random(11);
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = random.nextInt(64);
        }
        try (Model model = Model.newInstance("loss-by-token")) {
            CausalLm lm = TestModels.model(TestModels.tiny(LayerType.MLP), model.getNDManager(), 2);
            model.setBlock(lm);
            double windowed = LmTraining.meanLoss(model, tokens, 24, 4, 0);
            double byToken = LmTraining.meanLossByToken(model, tokens, 24, 0);
            assertEquals(windowed, byToken, 1e-5 * windowed);
            lm.setPrecision(Precision.FLOAT16);
            double half = LmTraining.meanLossByToken(model, tokens, 24, 0);
            assertNotEquals(byToken, half);
            assertEquals(byToken, half, 2e-3 * byToken);
            assertEquals(
                    LmTraining.meanLossByToken(model, tokens, 24, 1),
                    LmTraining.meanLossByToken(model, java.util.Arrays.copyOf(tokens, 25), 24, 0));
            assertThrows(
                    IllegalArgumentException.class,
                    () -> LmTraining.meanLossByToken(model, new long[10], 24, 0));
        }
    }
}

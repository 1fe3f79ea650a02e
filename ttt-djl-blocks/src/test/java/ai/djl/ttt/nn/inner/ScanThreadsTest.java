package ai.djl.ttt.nn.inner;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The backward pass's thread count follows OpenMP's wait policy unless the property sets it. */
class ScanThreadsTest {

    @AfterEach
    void restore() {
        System.clearProperty(ScanThreads.PROPERTY);
    }

    @Test
    void oneThreadWhenOpenMpThreadsSleepLibtorchsCountWhenTheySpin() {
        assertEquals(1, ScanThreads.backwardThreads("PASSIVE"));
        assertEquals(1, ScanThreads.backwardThreads(" passive "));
        assertEquals(0, ScanThreads.backwardThreads(null), "unset: OpenMP's default, spinning");
        assertEquals(0, ScanThreads.backwardThreads("ACTIVE"));
    }

    @Test
    void thePropertyOverridesThePolicy() {
        System.setProperty(ScanThreads.PROPERTY, "0");
        assertEquals(0, ScanThreads.backwardThreads("PASSIVE"));
        System.setProperty(ScanThreads.PROPERTY, "2");
        assertEquals(2, ScanThreads.backwardThreads(null));
    }
}

package ai.djl.ttt.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A safetensors header whose length's first two bytes spell "PK" (0x4B50 modulo 65536): readers
 * that sniff the format, DJL's among them, take such a file for an npz archive.
 */
class SafetensorsZipMagicTest {

    @Test
    void theWriterNeverWritesAHeaderLengthThatReadsAsAZip(@TempDir Path tmp) throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray x = manager.create(new float[] {1, 2, 3});
            boolean crossed = false;
            // names long enough that some header lengths round to exactly 0x4B50 = 19280 bytes
            for (int n = 19150; n <= 19300; n++) {
                byte[] header = Safetensors.header(Map.of("w".repeat(n), x), Map.of());
                assertNotEquals(Safetensors.ZIP_MAGIC, header.length & 0xFFFF, "name length " + n);
                assertEquals(0, header.length % 8);
                crossed |= header.length > Safetensors.ZIP_MAGIC;
            }
            assertTrue(crossed, "the name lengths did not cross a 0x4B50 header");

            // and such a file, written with the padding, reads back
            Path file = tmp.resolve("long.safetensors");
            try (OutputStream os = Files.newOutputStream(file)) {
                Safetensors.write(os, Map.of("w".repeat(19230), x), Map.of());
            }
            try (StateDict dict = StateDict.load(manager, file)) {
                assertTrue(dict.get("w".repeat(19230)).contentEquals(x));
            }
        }
    }

    @Test
    void aFileFromElsewhereWithThatLengthIsAClearError(@TempDir Path tmp) throws IOException {
        String json = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        byte[] header = new byte[Safetensors.ZIP_MAGIC];
        byte[] text = json.getBytes(StandardCharsets.UTF_8);
        System.arraycopy(text, 0, header, 0, text.length);
        for (int i = text.length; i < header.length; i++) {
            header[i] = ' ';
        }
        ByteBuffer file = ByteBuffer.allocate(8 + header.length + 4).order(ByteOrder.LITTLE_ENDIAN);
        file.putLong(header.length).put(header).putFloat(1f);
        Path path = tmp.resolve("pk.safetensors");
        Files.write(path, file.array());
        try (NDManager manager = NDManager.newBaseManager()) {
            MalformedModelException e =
                    assertThrows(
                            MalformedModelException.class, () -> StateDict.load(manager, path));
            assertTrue(e.getMessage().contains("reads as an npz archive"), e.getMessage());
        }
    }
}

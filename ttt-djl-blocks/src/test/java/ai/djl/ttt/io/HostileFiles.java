package ai.djl.ttt.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.ttt.config.LayerType;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.lm.CausalLm;
import ai.djl.ttt.lm.TestModels;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/** Tiny crafted model files for the hostile-input tests: each made by the test, a few kilobytes. */
public final class HostileFiles {

    private HostileFiles() {}

    /** The config of the tiny checkpoints: vocabulary 64, C = 32, 2 TTT-Linear layers. */
    public static TttConfig tinyConfig() {
        return TestModels.tiny(LayerType.LINEAR);
    }

    /** A tensor to write: its shape and float32 values. */
    public record Tensor(Shape shape, float[] values) {}

    /** The official tensors of a tiny model with random parameters. */
    public static Map<String, Tensor> tinyTensors() {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        try (NDManager manager = NDManager.newBaseManager()) {
            CausalLm model = TestModels.model(tinyConfig(), manager, 7);
            for (Map.Entry<String, Parameter> e :
                    OfficialWeights.parameterNames(model).entrySet()) {
                NDArray a = e.getValue().getArray();
                tensors.put(e.getKey(), new Tensor(a.getShape(), a.toFloatArray()));
            }
        }
        return tensors;
    }

    /**
     * Writes an official checkpoint folder: {@code config.json} (the tiny config, or the given
     * JSON) and {@code model.safetensors}.
     */
    public static Path officialCheckpoint(Path dir, String configJson) throws IOException {
        folderWithConfig(dir, configJson == null ? tinyConfig().toJson() : configJson);
        Files.write(dir.resolve("model.safetensors"), safetensors(tinyTensors()));
        return dir;
    }

    /**
     * Creates a folder holding a {@code config.json} of the given text: another library's, a broken
     * one, or the start of a crafted checkpoint.
     */
    public static Path folderWithConfig(Path dir, String configJson) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), configJson);
        return dir;
    }

    /** The tiny config as JSON with one key replaced, e.g. {@code "vocab_size": 25000000}. */
    public static String tinyConfigWith(String key, Object value) {
        TttConfig c = tinyConfig();
        String json = c.toJson();
        String replaced =
                json.replaceFirst("\"" + key + "\": [^,\\n]+", "\"" + key + "\": " + value);
        if (replaced.equals(json)) {
            throw new IllegalStateException("no key " + key + " in " + json);
        }
        return replaced;
    }

    /** Encodes float32 tensors as a safetensors file, in order, contiguous. */
    public static byte[] safetensors(Map<String, Tensor> tensors) {
        StringBuilder header = new StringBuilder("{");
        long offset = 0;
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            long[] dims = e.getValue().shape().getShape();
            long bytes = e.getValue().values().length * 4L;
            if (header.length() > 1) {
                header.append(',');
            }
            header.append('"')
                    .append(e.getKey())
                    .append("\":{\"dtype\":\"F32\",\"shape\":")
                    .append(java.util.Arrays.toString(dims).replace(" ", ""))
                    .append(",\"data_offsets\":[")
                    .append(offset)
                    .append(',')
                    .append(offset + bytes)
                    .append("]}");
            offset += bytes;
            ByteBuffer bb = ByteBuffer.allocate((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
            for (float v : e.getValue().values()) {
                bb.putFloat(v);
            }
            data.writeBytes(bb.array());
        }
        header.append('}');
        return safetensors(header.toString(), data.toByteArray());
    }

    /** A safetensors file from a header text (padded to 8 bytes with spaces) and data bytes. */
    public static byte[] safetensors(String header, byte[] data) {
        StringBuilder padded = new StringBuilder(header);
        while (padded.length() % 8 != 0) {
            padded.append(' ');
        }
        byte[] h = padded.toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer bb =
                ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        bb.putLong(h.length).put(h).put(data);
        return bb.array();
    }

    /** A safetensors file whose first 8 bytes declare {@code headerLength}, then {@code rest}. */
    public static byte[] withHeaderLength(long headerLength, byte[] rest) {
        ByteBuffer bb = ByteBuffer.allocate(8 + rest.length).order(ByteOrder.LITTLE_ENDIAN);
        bb.putLong(headerLength).put(rest);
        return bb.array();
    }

    /** A {@code .npy} header (version 1.0) for a little-endian float32 array of a shape text. */
    public static byte[] npyHeader(String shape) {
        String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + shape + "), }";
        StringBuilder sb = new StringBuilder(dict);
        while ((10 + sb.length() + 1) % 64 != 0) {
            sb.append(' ');
        }
        sb.append('\n');
        byte[] text = sb.toString().getBytes(StandardCharsets.US_ASCII);
        ByteBuffer bb = ByteBuffer.allocate(10 + text.length).order(ByteOrder.LITTLE_ENDIAN);
        bb.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII));
        bb.put((byte) 1).put((byte) 0).putShort((short) text.length).put(text);
        return bb.array();
    }

    /**
     * Writes an npz with one entry: the header for {@code shape}, then {@code dataBytes} zero
     * bytes, deflated (a zip bomb when the zeros are many) or stored.
     */
    public static void npz(Path file, String name, String shape, long dataBytes, boolean deflate)
            throws IOException {
        byte[] header = npyHeader(shape);
        try (ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(file))) {
            ZipEntry entry = new ZipEntry(name + ".npy");
            if (deflate) {
                zip.setLevel(Deflater.BEST_SPEED);
            } else {
                entry.setMethod(ZipEntry.STORED);
                CRC32 crc = new CRC32();
                crc.update(header);
                byte[] zeros = new byte[(int) dataBytes];
                crc.update(zeros);
                entry.setSize(header.length + dataBytes);
                entry.setCompressedSize(header.length + dataBytes);
                entry.setCrc(crc.getValue());
            }
            zip.putNextEntry(entry);
            zip.write(header);
            byte[] zeros = new byte[1 << 20];
            for (long left = dataBytes; left > 0; left -= zeros.length) {
                zip.write(zeros, 0, (int) Math.min(zeros.length, left));
            }
            zip.closeEntry();
        }
    }

    /**
     * Rewrites the byte count of the first array (the embedding, 256 x 32 float32) in the {@code
     * ttt-lm-0000.params} of a folder saved by {@link ai.djl.ttt.lm.TestModels#saved}: a length
     * field that lies. Returns the params file.
     */
    public static Path withEmbeddingByteCount(Path dir, int byteCount) throws IOException {
        Path params = dir.resolve("ttt-lm-0000.params");
        byte[] bytes = Files.readAllBytes(params);
        byte[] count = ByteBuffer.allocate(4).putInt(256 * 32 * 4).array();
        int at = indexOf(bytes, count, indexOf(bytes, new byte[] {0, 4, 'N', 'D', 'A', 'R'}, 0));
        ByteBuffer.wrap(bytes).putInt(at, byteCount);
        Files.write(params, bytes);
        return params;
    }

    /** Index of the first occurrence of a byte pattern, or -1. */
    public static int indexOf(byte[] data, byte[] pattern, int from) {
        outer:
        for (int i = from; i <= data.length - pattern.length; i++) {
            for (int j = 0; j < pattern.length; j++) {
                if (data[i + j] != pattern[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}

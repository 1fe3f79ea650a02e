package ai.djl.ttt.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ttt.runtime.AtomicFiles;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Writes {@code .safetensors} files as the format's specification (huggingface/safetensors) lays
 * them out, so that the official PyTorch tooling ({@code safetensors.torch.load_file},
 * HuggingFace's {@code from_pretrained}) reads them:
 *
 * <ul>
 *   <li>8 bytes: N, the header's length, an unsigned 64-bit little-endian integer;
 *   <li>N bytes: a UTF-8 JSON object, {@code {"__metadata__": {string: string}, name: {"dtype":
 *       "F32", "shape": [..], "data_offsets": [begin, end]}, ...}}, padded with spaces so that the
 *       data starts at a multiple of 8 bytes;
 *   <li>the data: every tensor's elements in C order, little-endian, one after the other with no
 *       gap, offsets counted from the start of the data.
 * </ul>
 *
 * Tensors are written in the order given (the order of a state dict), so the same tensors always
 * give the same bytes. DJL 0.36.0's own encoder ({@code NDList.encode(os, SAFETENSORS)}) is not
 * used: it neither pads the header to 8 bytes nor keeps the tensors' order (docs/official-
 * checkpoints.md, "Exporting a ttt-djl model for the official code").
 */
public final class Safetensors {

    /** The header padding's unit: the data section starts at a multiple of this. */
    static final int ALIGNMENT = 8;

    private Safetensors() {}

    /**
     * Writes named tensors to a {@code .safetensors} file, atomically (a temporary file, then a
     * move).
     *
     * @param file the destination
     * @param tensors name → tensor, in the order they are to be stored
     * @param metadata the free-form {@code __metadata__} (string → string; empty for none)
     * @throws IOException if the file cannot be written
     * @throws IllegalArgumentException for a data type the format has no name for, or a tensor
     *     named {@code __metadata__}
     */
    public static void save(Path file, Map<String, NDArray> tensors, Map<String, String> metadata)
            throws IOException {
        AtomicFiles.writeAtomically(
                file,
                tmp -> {
                    try (OutputStream os =
                            new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20)) {
                        write(os, tensors, metadata);
                    }
                });
    }

    /**
     * Writes named tensors in the safetensors layout to a stream.
     *
     * @param os the stream (not closed)
     * @param tensors name → tensor, in the order they are to be stored
     * @param metadata the free-form {@code __metadata__} (string → string; empty for none)
     * @throws IOException if writing fails
     * @throws IllegalArgumentException for a data type the format has no name for, or a tensor
     *     named {@code __metadata__}
     */
    public static void write(
            OutputStream os, Map<String, NDArray> tensors, Map<String, String> metadata)
            throws IOException {
        byte[] header = header(tensors, metadata);
        ByteBuffer length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        length.putLong(header.length);
        os.write(length.array());
        os.write(header);
        for (NDArray array : tensors.values()) {
            os.write(littleEndianBytes(array));
        }
    }

    /** "PK" read as a little-endian 16-bit number: the start of a zip (npz) archive. */
    static final int ZIP_MAGIC = 0x4B50;

    /** The JSON header, padded with spaces to a multiple of {@link #ALIGNMENT} bytes. */
    static byte[] header(Map<String, NDArray> tensors, Map<String, String> metadata) {
        JsonObject json = new JsonObject();
        if (!metadata.isEmpty()) {
            JsonObject meta = new JsonObject();
            new LinkedHashMap<>(metadata).forEach(meta::addProperty);
            json.add("__metadata__", meta);
        }
        long offset = 0;
        for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
            if ("__metadata__".equals(e.getKey())) {
                throw new IllegalArgumentException(
                        "a tensor cannot be named __metadata__ (the key is the format's own)");
            }
            NDArray array = e.getValue();
            JsonObject entry = new JsonObject();
            entry.addProperty("dtype", dtype(e.getKey(), array.getDataType()));
            JsonArray shape = new JsonArray();
            for (long d : array.getShape().getShape()) {
                shape.add(d);
            }
            entry.add("shape", shape);
            long bytes = array.size() * array.getDataType().getNumOfBytes();
            JsonArray offsets = new JsonArray();
            offsets.add(offset);
            offsets.add(offset + bytes);
            entry.add("data_offsets", offsets);
            json.add(e.getKey(), entry);
            offset += bytes;
        }
        String text = new GsonBuilder().disableHtmlEscaping().create().toJson(json);
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        int padded = (utf8.length + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
        if ((padded & 0xFFFF) == ZIP_MAGIC) {
            // the length's first two bytes would spell "PK", and readers that sniff the format
            // (DJL's NDList.decode among them) would take the file for an npz archive
            padded += ALIGNMENT;
        }
        byte[] out = new byte[padded];
        System.arraycopy(utf8, 0, out, 0, utf8.length);
        for (int i = utf8.length; i < padded; i++) {
            out[i] = ' ';
        }
        return out;
    }

    /**
     * The format's name of a data type.
     *
     * @param name the tensor's name, for the message
     * @param type the data type
     * @return e.g. {@code F32}
     */
    static String dtype(String name, DataType type) {
        switch (type) {
            case FLOAT64:
                return "F64";
            case FLOAT32:
                return "F32";
            case FLOAT16:
                return "F16";
            case BFLOAT16:
                return "BF16";
            case INT64:
                return "I64";
            case INT32:
                return "I32";
            case INT16:
                return "I16";
            case INT8:
                return "I8";
            case UINT8:
                return "U8";
            case BOOLEAN:
                return "BOOL";
            default:
                throw new IllegalArgumentException(
                        "tensor '"
                                + name
                                + "' has data type "
                                + type
                                + ", which safetensors has no name for (expected a float, int or"
                                + " boolean type)");
        }
    }

    /** The elements in C order, little-endian whatever the platform's order. */
    private static byte[] littleEndianBytes(NDArray array) {
        ByteBuffer data = array.toByteBuffer();
        byte[] bytes = new byte[data.remaining()];
        data.duplicate().get(bytes);
        int width = array.getDataType().getNumOfBytes();
        if (data.order() == ByteOrder.BIG_ENDIAN && width > 1) {
            for (int i = 0; i < bytes.length; i += width) {
                for (int a = i, b = i + width - 1; a < b; a++, b--) {
                    byte t = bytes[a];
                    bytes[a] = bytes[b];
                    bytes[b] = t;
                }
            }
        }
        return bytes;
    }
}

package ai.djl.ttt.io;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ttt.runtime.BoundedText;
import ai.djl.ttt.runtime.StrictJson;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * The declared names, data types and shapes of a {@code .safetensors} or {@code .npz} file, read
 * from its headers alone and checked against the file's length before any tensor is read: what a
 * loader compares with the model's config before it allocates anything.
 *
 * <p>Checks (each failure a {@link MalformedModelException} naming the file and the field):
 *
 * <ul>
 *   <li>safetensors: the header length is from 2 to {@value #MAX_HEADER_BYTES} bytes (the reference
 *       implementation's ceiling) and within the file; the header is strict JSON, an object of
 *       tensors; each tensor has a known {@code dtype}, a {@code shape} of non-negative integers
 *       and {@code data_offsets} {@code [begin, end]} with {@code 0 <= begin <= end}, {@code end}
 *       within the file, {@code end - begin} = elements × bytes per element, and no two tensors'
 *       bytes overlap;
 *   <li>npz: each entry is a {@code .npy} array with a header of at most {@value
 *       #MAX_NPY_HEADER_BYTES} bytes, a numeric dtype in C order and a shape whose bytes are
 *       exactly the entry's declared uncompressed size (a zip bomb declares more than its shape
 *       needs); {@link #openNpyEntry} then reads no byte past that size.
 * </ul>
 *
 * Tensors of DJL's {@code BFLOAT16} are refused: DJL 0.36.0's PyTorch engine aborts the JVM on
 * them.
 */
public final class TensorHeaders {

    /** The largest safetensors header read (the reference implementation's limit, 100 MB). */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    /** The largest {@code .npy} header read (numpy's own reader stops at 10,000 bytes). */
    public static final int MAX_NPY_HEADER_BYTES = 65_536;

    /** The largest file DJL 0.36.0's decoder reads (its offsets are Java ints). */
    static final long MAX_DATA_BYTES = Integer.MAX_VALUE;

    private static final Pattern INTEGER = Pattern.compile("-?[0-9]{1,18}");

    private static final byte[] NPY_MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};

    private static final Pattern NPY_HEADER =
            Pattern.compile(
                    "\\{'descr': '([^']{1,8})', 'fortran_order': (True|False), 'shape':"
                            + " \\(([0-9, ]*)\\), *\\}");

    /**
     * One tensor as declared.
     *
     * @param name the name in the file
     * @param dataType the data type
     * @param shape the shape
     * @param bytes the bytes of its data
     */
    public record Entry(String name, DataType dataType, Shape shape, long bytes) {}

    private final Path file;
    private final Map<String, Entry> entries;

    private TensorHeaders(Path file, Map<String, Entry> entries) {
        this.file = file;
        this.entries = Collections.unmodifiableMap(entries);
    }

    /**
     * Reads and checks the headers of a {@code .safetensors} or {@code .npz} file.
     *
     * @param file the file
     * @return its declared tensors
     * @throws IOException if the file cannot be read
     * @throws MalformedModelException if a header is corrupt or declares more than the file holds
     */
    public static TensorHeaders read(Path file) throws IOException, MalformedModelException {
        long size = Files.size(file);
        byte[] magic = new byte[9];
        int n;
        try (InputStream is = Files.newInputStream(file)) {
            n = is.readNBytes(magic, 0, magic.length);
        }
        // a safetensors header is JSON right after its 8-byte length, whose low bytes may well
        // read "PK" (a length of 0x4B50 = 19280 bytes): the '{' decides before the zip magic
        boolean json = n == magic.length && magic[8] == '{';
        if (!json && n >= 2 && magic[0] == 'P' && magic[1] == 'K') {
            return new TensorHeaders(file, readNpz(file));
        }
        if (n < 8) {
            throw malformed(
                    file,
                    "is "
                            + size
                            + " bytes, too short for a safetensors header length (8 bytes) or an"
                            + " npz archive");
        }
        return new TensorHeaders(file, readSafetensors(file, size));
    }

    /**
     * Returns the declared tensors by name, in file order.
     *
     * @return name → entry
     */
    public Map<String, Entry> entries() {
        return entries;
    }

    /**
     * Returns the declared shapes by name, in file order.
     *
     * @return name → shape
     */
    public Map<String, Shape> shapes() {
        Map<String, Shape> shapes = new LinkedHashMap<>();
        entries.forEach((k, v) -> shapes.put(k, v.shape()));
        return shapes;
    }

    /**
     * Returns the file.
     *
     * @return the path
     */
    public Path getFile() {
        return file;
    }

    private static Map<String, Entry> readSafetensors(Path file, long size)
            throws IOException, MalformedModelException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer lengthBytes = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(channel, lengthBytes, 0);
            long headerLength = lengthBytes.getLong(0);
            // unsigned in the format: a negative long is a length over 2^63
            boolean tooSmall = headerLength >= 0 && headerLength < 2;
            boolean tooLarge = headerLength < 0 || headerLength > MAX_HEADER_BYTES;
            if (tooSmall || tooLarge || headerLength > size - 8) {
                throw malformed(
                        file,
                        "declares a safetensors header of "
                                + Long.toUnsignedString(headerLength)
                                + " bytes (first 8 bytes, little-endian) but "
                                + (tooSmall
                                        ? "a header is at least 2 bytes ({})"
                                        : tooLarge
                                                ? "headers are at most "
                                                        + MAX_HEADER_BYTES
                                                        + " bytes"
                                                : "the file is only " + size + " bytes"));
            }
            ByteBuffer header = ByteBuffer.allocate((int) headerLength);
            readFully(channel, header, 8);
            String json;
            try {
                json =
                        StandardCharsets.UTF_8
                                .newDecoder()
                                .onMalformedInput(CodingErrorAction.REPORT)
                                .decode(header.flip())
                                .toString();
            } catch (CharacterCodingException e) {
                throw malformed(file, "has a safetensors header that is not UTF-8 text");
            }
            JsonElement root;
            try {
                root = StrictJson.parse(json.stripTrailing());
            } catch (IllegalArgumentException e) {
                throw malformed(file, "has a safetensors header that is " + e.getMessage());
            }
            if (!root.isJsonObject()) {
                throw malformed(file, "has a safetensors header that is not a JSON object");
            }
            return safetensorsEntries(file, root.getAsJsonObject(), size - 8 - headerLength);
        }
    }

    private static Map<String, Entry> safetensorsEntries(Path file, JsonObject root, long dataBytes)
            throws MalformedModelException {
        if (dataBytes > MAX_DATA_BYTES) {
            throw malformed(
                    file,
                    "holds "
                            + dataBytes
                            + " bytes of tensor data; DJL 0.36.0 reads at most "
                            + MAX_DATA_BYTES
                            + " (see docs/official-checkpoints.md)");
        }
        Map<String, Entry> entries = new LinkedHashMap<>();
        List<long[]> ranges = new ArrayList<>();
        List<String> rangeNames = new ArrayList<>();
        for (Map.Entry<String, JsonElement> e : root.entrySet()) {
            String name = e.getKey();
            if ("__metadata__".equals(name)) {
                continue;
            }
            String where = "tensor '" + BoundedText.of(name) + "'";
            if (!e.getValue().isJsonObject()) {
                throw malformed(file, "declares " + where + " as something other than an object");
            }
            JsonObject t = e.getValue().getAsJsonObject();
            JsonElement dtype = t.get("dtype");
            if (dtype == null
                    || !dtype.isJsonPrimitive()
                    || !dtype.getAsJsonPrimitive().isString()) {
                throw malformed(file, "declares " + where + " without a dtype string");
            }
            DataType dataType = safetensorsType(file, where, dtype.getAsString());
            Shape shape = shape(file, where, t.get("shape"));
            long[] offsets = offsets(file, where, t.get("data_offsets"));
            long begin = offsets[0];
            long end = offsets[1];
            String declared = where + " has data_offsets [" + begin + ", " + end + "]";
            if (begin < 0 || end < 0 || begin > end) {
                throw malformed(file, declared + ": expected 0 <= begin <= end");
            }
            if (end > dataBytes) {
                throw malformed(
                        file, declared + " but the data section is " + dataBytes + " bytes");
            }
            long expected = bytes(file, where, shape, dataType);
            if (end - begin != expected) {
                throw malformed(
                        file,
                        declared
                                + " ("
                                + (end - begin)
                                + " bytes) but "
                                + dataType
                                + " "
                                + shape
                                + " needs "
                                + expected
                                + " bytes");
            }
            entries.put(name, new Entry(name, dataType, shape, expected));
            ranges.add(new long[] {begin, end, ranges.size()});
            rangeNames.add(name);
        }
        ranges.sort(Comparator.<long[]>comparingLong(r -> r[0]).thenComparingLong(r -> r[1]));
        for (int i = 1; i < ranges.size(); i++) {
            long[] previous = ranges.get(i - 1);
            long[] current = ranges.get(i);
            if (current[0] < previous[1] && current[1] > current[0]) {
                throw malformed(
                        file,
                        "tensors '"
                                + BoundedText.of(rangeNames.get((int) previous[2]))
                                + "' ["
                                + previous[0]
                                + ", "
                                + previous[1]
                                + ") and '"
                                + BoundedText.of(rangeNames.get((int) current[2]))
                                + "' ["
                                + current[0]
                                + ", "
                                + current[1]
                                + ") overlap in data_offsets");
            }
        }
        return entries;
    }

    private static DataType safetensorsType(Path file, String where, String dtype)
            throws MalformedModelException {
        switch (dtype) {
            case "F64":
                return DataType.FLOAT64;
            case "F32":
                return DataType.FLOAT32;
            case "F16":
                return DataType.FLOAT16;
            case "I64":
                return DataType.INT64;
            case "I32":
                return DataType.INT32;
            case "I8":
                return DataType.INT8;
            case "U8":
                return DataType.UINT8;
            case "BOOL":
                return DataType.BOOLEAN;
            case "BF16":
                throw malformed(
                        file,
                        where
                                + " has dtype BF16, which DJL 0.36.0's PyTorch engine cannot"
                                + " read; convert the checkpoint to F32 (see"
                                + " docs/official-checkpoints.md)");
            default:
                throw malformed(
                        file,
                        where
                                + " has dtype '"
                                + BoundedText.of(dtype)
                                + "'; expected F64, F32, F16, I64, I32, I8, U8 or BOOL");
        }
    }

    private static Shape shape(Path file, String where, JsonElement value)
            throws MalformedModelException {
        if (value == null || !value.isJsonArray()) {
            throw malformed(file, "declares " + where + " without a shape list");
        }
        JsonArray dims = value.getAsJsonArray();
        if (dims.size() > 32) {
            throw malformed(
                    file, where + " has " + dims.size() + " dimensions; expected at most 32");
        }
        long[] shape = new long[dims.size()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = nonNegativeLong(file, where + " shape[" + i + "]", dims.get(i));
        }
        return new Shape(shape);
    }

    private static long[] offsets(Path file, String where, JsonElement value)
            throws MalformedModelException {
        if (value == null || !value.isJsonArray() || value.getAsJsonArray().size() != 2) {
            throw malformed(
                    file, where + " has no data_offsets [begin, end] (a list of two integers)");
        }
        JsonArray a = value.getAsJsonArray();
        return new long[] {
            integer(file, where + " data_offsets[0]", a.get(0)),
            integer(file, where + " data_offsets[1]", a.get(1))
        };
    }

    private static long nonNegativeLong(Path file, String what, JsonElement v)
            throws MalformedModelException {
        long x = integer(file, what, v);
        if (x < 0) {
            throw malformed(file, what + " is " + x + "; expected an integer >= 0");
        }
        return x;
    }

    private static long integer(Path file, String what, JsonElement v)
            throws MalformedModelException {
        if (v.isJsonPrimitive() && v.getAsJsonPrimitive().isNumber()) {
            String text = v.getAsString();
            if (INTEGER.matcher(text).matches()) {
                return Long.parseLong(text);
            }
        }
        throw malformed(
                file, what + " is " + BoundedText.of(v) + "; expected an integer below 10^18");
    }

    /** Elements × bytes per element, refusing a product that overflows. */
    private static long bytes(Path file, String where, Shape shape, DataType type)
            throws MalformedModelException {
        long total = type.getNumOfBytes();
        for (long d : shape.getShape()) {
            if (d != 0 && total > Long.MAX_VALUE / d) {
                throw malformed(file, where + " has shape " + shape + ", more bytes than 2^63");
            }
            total *= d;
        }
        return total;
    }

    private static Map<String, Entry> readNpz(Path file)
            throws IOException, MalformedModelException {
        Map<String, Entry> entries = new LinkedHashMap<>();
        try (ZipFile zip = new ZipFile(file.toFile())) {
            List<? extends ZipEntry> list = Collections.list(zip.entries());
            for (ZipEntry entry : list) {
                String where = "npz entry '" + BoundedText.of(entry.getName()) + "'";
                Entry e = readNpyHeader(file, zip, entry, where);
                if (entries.put(e.name(), e) != null) {
                    throw malformed(file, "holds " + where + " twice");
                }
            }
        } catch (ZipException e) {
            throw malformed(
                    file, "is not a readable npz (zip) archive: " + BoundedText.of(e.getMessage()));
        }
        return entries;
    }

    private static Entry readNpyHeader(Path file, ZipFile zip, ZipEntry entry, String where)
            throws IOException, MalformedModelException {
        if (!entry.getName().endsWith(".npy")) {
            throw malformed(file, "holds " + where + ", not a .npy array");
        }
        String name = entry.getName().substring(0, entry.getName().length() - 4);
        try (DataInputStream in = new DataInputStream(zip.getInputStream(entry))) {
            byte[] magic = new byte[NPY_MAGIC.length];
            in.readFully(magic);
            if (!java.util.Arrays.equals(magic, NPY_MAGIC)) {
                throw malformed(file, where + " is not a .npy array (no \\x93NUMPY magic)");
            }
            int major = in.readUnsignedByte();
            int minor = in.readUnsignedByte();
            if (major < 1 || major > 3 || minor != 0) {
                throw malformed(
                        file,
                        where
                                + " has .npy version "
                                + major
                                + "."
                                + minor
                                + "; expected 1.0, 2.0 or 3.0");
            }
            long headerLength;
            int prefix;
            if (major == 1) {
                headerLength = Short.toUnsignedInt(Short.reverseBytes(in.readShort()));
                prefix = 10;
            } else {
                headerLength = Integer.toUnsignedLong(Integer.reverseBytes(in.readInt()));
                prefix = 12;
            }
            if (headerLength > MAX_NPY_HEADER_BYTES) {
                throw malformed(
                        file,
                        where
                                + " declares a .npy header of "
                                + headerLength
                                + " bytes; at most "
                                + MAX_NPY_HEADER_BYTES
                                + " are read");
            }
            byte[] header = new byte[(int) headerLength];
            in.readFully(header);
            String text = new String(header, StandardCharsets.ISO_8859_1).trim();
            Matcher m = NPY_HEADER.matcher(text);
            if (!m.matches()) {
                throw malformed(
                        file,
                        where
                                + " has a .npy header that is not a plain array's ("
                                + BoundedText.of(text)
                                + "); pickled objects are never read");
            }
            if ("True".equals(m.group(2))) {
                throw malformed(
                        file,
                        where + " is in Fortran order; save it in C order (np.ascontiguousarray)");
            }
            DataType type = numpyType(file, where, m.group(1));
            String dims = m.group(3).trim();
            List<Long> shape = new ArrayList<>();
            if (!dims.isEmpty()) {
                for (String d : dims.split(",")) {
                    String t = d.trim();
                    if (t.isEmpty()) {
                        continue;
                    }
                    if (t.length() > 18) {
                        throw malformed(
                                file, where + " has a dimension of " + t.length() + " digits");
                    }
                    shape.add(Long.parseLong(t));
                }
            }
            Shape s = new Shape(shape.stream().mapToLong(Long::longValue).toArray());
            long bytes = bytes(file, where, s, type);
            long declared = entry.getSize();
            if (declared != prefix + headerLength + bytes) {
                throw malformed(
                        file,
                        where
                                + " declares shape "
                                + s
                                + " ("
                                + bytes
                                + " bytes of "
                                + type
                                + ") but the entry holds "
                                + (declared < 0
                                        ? "an unknown number of"
                                        : declared - prefix - headerLength)
                                + " bytes of data");
            }
            if (bytes > MAX_DATA_BYTES) {
                throw malformed(
                        file,
                        where
                                + " holds "
                                + bytes
                                + " bytes; DJL 0.36.0 reads at most "
                                + MAX_DATA_BYTES);
            }
            return new Entry(name, type, s, bytes);
        } catch (EOFException e) {
            throw malformed(file, where + " ends inside its .npy header");
        }
    }

    private static DataType numpyType(Path file, String where, String descr)
            throws MalformedModelException {
        switch (descr.replace('>', '<').replace('=', '<')) {
            case "<f4":
                return DataType.FLOAT32;
            case "<f8":
                return DataType.FLOAT64;
            case "<f2":
                return DataType.FLOAT16;
            case "<i8":
                return DataType.INT64;
            case "<i4":
                return DataType.INT32;
            case "<i2":
                return DataType.INT16;
            case "|i1":
                return DataType.INT8;
            case "|u1":
                return DataType.UINT8;
            case "|b1":
                return DataType.BOOLEAN;
            default:
                throw malformed(
                        file,
                        where
                                + " has dtype '"
                                + BoundedText.of(descr)
                                + "'; expected a float, int or bool array");
        }
    }

    /**
     * Opens one {@code .npy} entry of an npz file for reading, limited to the bytes its header
     * declared ({@link #read} checked them): a reader of it never inflates more.
     *
     * @param zip the open archive
     * @param entry the entry
     * @param entryBytes the entry's checked size
     * @return the stream
     * @throws IOException if the entry cannot be opened
     */
    static InputStream openNpyEntry(ZipFile zip, ZipEntry entry, long entryBytes)
            throws IOException {
        InputStream raw = zip.getInputStream(entry);
        return new InputStream() {
            private long left = entryBytes;

            @Override
            public int read() throws IOException {
                if (left <= 0) {
                    return -1;
                }
                int b = raw.read();
                if (b >= 0) {
                    left--;
                }
                return b;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (left <= 0) {
                    return -1;
                }
                int n = raw.read(b, off, (int) Math.min(len, left));
                if (n > 0) {
                    left -= n;
                }
                return n;
            }

            @Override
            public void close() throws IOException {
                raw.close();
            }
        };
    }

    private static void readFully(FileChannel channel, ByteBuffer buffer, long position)
            throws IOException {
        long at = position;
        while (buffer.hasRemaining()) {
            int n = channel.read(buffer, at);
            if (n < 0) {
                throw new EOFException();
            }
            at += n;
        }
    }

    static MalformedModelException malformed(Path file, String what) {
        boolean verb =
                what.startsWith("declares")
                        || what.startsWith("is ")
                        || what.startsWith("has ")
                        || what.startsWith("holds ");
        return new MalformedModelException(
                file
                        + " is not a readable .safetensors or .npz state dict: "
                        + (verb ? "it " : "")
                        + what);
    }
}

package ai.djl.ttt.io;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ttt.runtime.BoundedText;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The declared layout of a ttt-djl model's {@code .params} file (DJL's {@code Model.save} format),
 * read and checked against the file's length before DJL's loader reads it: DJL trusts every length
 * field (an array's byte count, a shape's rank, a count of input shapes) and allocates what it
 * says, so a file of a few kilobytes could ask for gigabytes.
 *
 * <p>What is read: the model header ({@code DJL@}, version, name, data type, input shapes,
 * properties); the {@link ai.djl.ttt.lm.CausalLm}'s metadata (its input shapes and the config it
 * was saved with); then every array record ({@code NDAR}: data type, shape, byte count), whose
 * bytes are skipped, not read. Every count and length is checked against the bytes left in the
 * file, and an array's byte count against its data type × shape.
 */
public final class ParamsHeaders {

    private static final int MAX_RANK = 32;

    /** The start of the message for a file that ends early, as DJL's own loader words it. */
    static final String TRUNCATED =
            "the weights are corrupt or truncated (the file ends before every parameter was"
                    + " read): ";

    /**
     * One array record as declared.
     *
     * @param dataType its data type
     * @param shape its shape
     * @param bytes its byte count
     */
    public record Entry(DataType dataType, Shape shape, long bytes) {}

    private final Path file;
    private final String savedConfig;
    private final List<Entry> entries;

    private ParamsHeaders(Path file, String savedConfig, List<Entry> entries) {
        this.file = file;
        this.savedConfig = savedConfig;
        this.entries = Collections.unmodifiableList(entries);
    }

    /**
     * Reads and checks a {@code .params} file written by {@code Model.save} for a {@link
     * ai.djl.ttt.lm.CausalLm}.
     *
     * @param file the file
     * @return its declared layout
     * @throws IOException if the file cannot be read
     * @throws MalformedModelException naming the file and the field that is out of bounds
     */
    public static ParamsHeaders read(Path file) throws IOException, MalformedModelException {
        long size = Files.size(file);
        try (Counting counting = new Counting(new BufferedInputStream(Files.newInputStream(file)));
                DataInputStream in = new DataInputStream(counting)) {
            Reader r = new Reader(file, size, counting, in);
            byte[] magic = new byte[4];
            in.readFully(magic);
            if (magic[0] != 'D' || magic[1] != 'J' || magic[2] != 'L' || magic[3] != '@') {
                throw r.malformed("it does not start with DJL@ (not a DJL .params file)");
            }
            int version = in.readInt();
            if (version != 1) {
                throw r.malformed("its model format version is " + version + "; expected 1");
            }
            in.readUTF(); // model name
            r.dataType("the model's data type", in.readUTF());
            int inputs = r.count("the number of model inputs", in.readInt(), 10);
            for (int i = 0; i < inputs; i++) {
                in.readUTF();
                r.shape("model input " + i);
            }
            int properties = r.count("the number of model properties", in.readInt(), 4);
            for (int i = 0; i < properties; i++) {
                in.readUTF();
                in.readUTF();
            }
            in.readByte(); // CausalLm's encoding version, checked by its loadMetadata
            int shapes = r.count("the number of CausalLm input shapes", in.readInt(), 8);
            for (int i = 0; i < shapes; i++) {
                r.shape("CausalLm input shape " + i);
            }
            String config = in.readUTF();
            List<Entry> entries = new ArrayList<>();
            while (r.seekArray()) {
                entries.add(r.array(entries.size()));
            }
            return new ParamsHeaders(file, config, entries);
        } catch (EOFException e) {
            throw new MalformedModelException(TRUNCATED + file + " ends inside a header");
        }
    }

    /**
     * Returns the config JSON the model was saved with.
     *
     * @return the config text
     */
    public String getSavedConfig() {
        return savedConfig;
    }

    /**
     * Returns the array records in file order (DJL's {@code Block.getParameters()} order).
     *
     * @return the records
     */
    public List<Entry> entries() {
        return entries;
    }

    /**
     * Returns the file.
     *
     * @return the path
     */
    public Path getFile() {
        return file;
    }

    /** The parsing state: the file, its length and the position. */
    private static final class Reader {
        private final Path file;
        private final long size;
        private final Counting counting;
        private final DataInputStream in;

        Reader(Path file, long size, Counting counting, DataInputStream in) {
            this.file = file;
            this.size = size;
            this.counting = counting;
            this.in = in;
        }

        long left() {
            return size - counting.position;
        }

        MalformedModelException malformed(String what) {
            return new MalformedModelException(
                    file + " is corrupt: " + what + " (at byte " + counting.position + ")");
        }

        /** A count whose entries take at least {@code minBytes} each: no more than fit. */
        int count(String what, int n, int minBytes) throws MalformedModelException {
            if (n < 0 || (long) n * minBytes > left()) {
                throw malformed(
                        what + " is " + n + " but " + left() + " bytes are left in the file");
            }
            return n;
        }

        DataType dataType(String what, String name) throws MalformedModelException {
            DataType type;
            try {
                type = DataType.valueOf(name);
            } catch (IllegalArgumentException e) {
                throw malformed(what + " is '" + BoundedText.of(name) + "', not a DJL data type");
            }
            if (type == DataType.BFLOAT16 || type == DataType.STRING || type == DataType.UNKNOWN) {
                throw malformed(what + " is " + type + ", which ttt-djl models never hold");
            }
            return type;
        }

        Shape shape(String what) throws IOException, MalformedModelException {
            int rank = in.readInt();
            if (rank < 0 || rank > MAX_RANK || (long) rank * 8 > left()) {
                throw malformed(what + " has rank " + rank + "; expected 0 to " + MAX_RANK);
            }
            long[] dims = new long[rank];
            for (int i = 0; i < rank; i++) {
                dims[i] = in.readLong();
                if (dims[i] < -1) {
                    throw malformed(what + " has dimension " + dims[i]);
                }
            }
            int layout = in.readInt();
            if (layout < 0 || layout > MAX_RANK || (long) layout * 2 > left()) {
                throw malformed(
                        what
                                + " has a layout of "
                                + layout
                                + " characters; expected 0 to "
                                + MAX_RANK);
            }
            for (int i = 0; i < layout; i++) {
                in.readChar();
            }
            return new Shape(dims);
        }

        /** Moves just past the next {@code NDAR} marker; false at the end of the file. */
        boolean seekArray() throws IOException {
            // DataOutputStream.writeUTF("NDAR"): length 4, then the bytes
            int[] window = new int[6];
            int filled = 0;
            while (true) {
                int b = in.read();
                if (b < 0) {
                    return false;
                }
                System.arraycopy(window, 1, window, 0, 5);
                window[5] = b;
                filled++;
                if (filled >= 6
                        && window[0] == 0
                        && window[1] == 4
                        && window[2] == 'N'
                        && window[3] == 'D'
                        && window[4] == 'A'
                        && window[5] == 'R') {
                    return true;
                }
            }
        }

        Entry array(int index) throws IOException, MalformedModelException {
            String what = "array " + index;
            int version = in.readInt();
            if (version < 1 || version > 3) {
                throw malformed(what + " has encoding version " + version + "; expected 1 to 3");
            }
            if (version > 1 && in.readByte() == 1) {
                in.readUTF(); // name
            }
            in.readUTF(); // sparse format
            DataType type = dataType(what + "'s data type", in.readUTF());
            Shape shape = shape(what);
            if (version > 2) {
                in.readByte(); // byte order
            }
            int length = in.readInt();
            long expected = shape.size() * type.getNumOfBytes();
            if (length >= 0 && length == expected && length > left()) {
                throw new MalformedModelException(
                        TRUNCATED
                                + file
                                + " "
                                + what
                                + " declares "
                                + length
                                + " bytes of data but "
                                + left()
                                + " bytes are left");
            }
            if (length < 0 || length > left()) {
                throw malformed(
                        what
                                + " declares "
                                + length
                                + " bytes of data but "
                                + left()
                                + " bytes are left in the file");
            }
            if (shape.size() < 0 || length != expected) {
                throw malformed(
                        what
                                + " declares "
                                + length
                                + " bytes of data but "
                                + type
                                + " "
                                + shape
                                + " needs "
                                + expected);
            }
            in.skipNBytes(length);
            return new Entry(type, shape, length);
        }
    }

    /** Counts the bytes read or skipped. */
    private static final class Counting extends FilterInputStream {
        long position;

        Counting(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) {
                position++;
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) {
                position += n;
            }
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            long k = super.skip(n);
            position += k;
            return k;
        }
    }
}

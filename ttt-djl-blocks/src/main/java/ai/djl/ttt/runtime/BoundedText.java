package ai.djl.ttt.runtime;

import java.util.List;

/**
 * Bounds what an error message echoes of its input: a value from a file or a request is cut to a
 * few hundred characters (saying how long it was), and a list of problems shows its first few and
 * counts the rest. A message built from a hostile file therefore stays one short line whatever the
 * file holds.
 */
public final class BoundedText {

    /** The most characters of one echoed value. */
    public static final int MAX_VALUE_CHARS = 200;

    /** The most entries of a problem list shown in full. */
    public static final int MAX_LIST_ENTRIES = 10;

    private BoundedText() {}

    /**
     * Returns a value for a message: as it is when short, else its start and its length, e.g.
     * {@code "aaaa… (104857600 characters)"}. Line breaks become spaces.
     *
     * @param value the value ({@code null} gives {@code "null"})
     * @return at most {@link #MAX_VALUE_CHARS} characters of it, and its length if cut
     */
    public static String of(Object value) {
        return of(value, MAX_VALUE_CHARS);
    }

    /**
     * Returns a value cut to {@code max} characters, saying how long it was if cut.
     *
     * @param value the value ({@code null} gives {@code "null"})
     * @param max the most characters kept
     * @return the value, or its start and its length
     */
    public static String of(Object value, int max) {
        String text = String.valueOf(value);
        String cut = text.length() <= max ? text : text.substring(0, max);
        cut = cut.replace('\n', ' ').replace('\r', ' ');
        return text.length() <= max ? cut : cut + "… (" + text.length() + " characters)";
    }

    /**
     * Joins a list for a message: its first {@link #MAX_LIST_ENTRIES} entries (each cut as {@link
     * #of(Object)}), then "and N more".
     *
     * @param entries the entries
     * @param separator between entries, e.g. {@code "; "}
     * @return the joined text
     */
    public static String list(List<?> entries, String separator) {
        StringBuilder sb = new StringBuilder();
        int shown = Math.min(entries.size(), MAX_LIST_ENTRIES);
        for (int i = 0; i < shown; i++) {
            if (i > 0) {
                sb.append(separator);
            }
            sb.append(of(entries.get(i)));
        }
        if (entries.size() > shown) {
            sb.append(separator).append("and ").append(entries.size() - shown).append(" more");
        }
        return sb.toString();
    }

    /**
     * Joins the first {@code max} names with ", ", then ", ..." if there are more: a folder's files
     * in a message, e.g. {@code "config.json, optimizer-0002.npz, ..."}.
     *
     * @param names the names
     * @param max the most names shown
     * @return the joined text
     */
    public static String firstNames(List<String> names, int max) {
        return String.join(", ", names.subList(0, Math.min(max, names.size())))
                + (names.size() > max ? ", ..." : "");
    }
}

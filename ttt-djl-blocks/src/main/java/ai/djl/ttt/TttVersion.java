package ai.djl.ttt;

/**
 * The version of the ttt-djl library, as its jar's manifest states it ({@code
 * Implementation-Version}, written by {@code mvn package}), so that no source file repeats the
 * version of the pom.
 */
public final class TttVersion {

    /** What {@link #get()} returns when the classes are not loaded from a packaged jar. */
    public static final String UNKNOWN = "unknown (not running from a packaged jar)";

    private TttVersion() {}

    /**
     * Returns the library's version, e.g. {@code 0.1.0-SNAPSHOT}.
     *
     * @return the manifest's {@code Implementation-Version}, or {@link #UNKNOWN} when the classes
     *     come from a build folder (tests, an IDE)
     */
    public static String get() {
        String version = TttVersion.class.getPackage().getImplementationVersion();
        return version == null || version.isBlank() ? UNKNOWN : version;
    }
}

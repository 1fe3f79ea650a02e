package ai.djl.ttt.zoo;

/**
 * A request over one of the operator's {@link ServingLimits}, refused before anything was
 * allocated. A bad request ({@link IllegalArgumentException}): DJL's {@code Predictor} wraps it in
 * a {@code TranslateException}, which DJL Serving answers with 400 Bad Request.
 */
public final class RequestLimitException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    /** The limit's argument name. */
    private final String limit;

    /**
     * Creates the exception.
     *
     * @param limit the limit's argument name, e.g. {@value ServingLimits#MAX_PROMPT_TOKENS}
     * @param message what the request asked for and what the limit is
     */
    public RequestLimitException(String limit, String message) {
        super(message);
        this.limit = limit;
    }

    /**
     * Returns the limit's argument name, e.g. {@value ServingLimits#MAX_PROMPT_TOKENS}.
     *
     * @return the name
     */
    public String getLimit() {
        return limit;
    }
}

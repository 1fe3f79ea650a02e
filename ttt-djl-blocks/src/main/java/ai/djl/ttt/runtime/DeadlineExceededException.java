package ai.djl.ttt.runtime;

/**
 * Thrown when a piece of work ran past its {@link Deadline}: it stopped between two steps (decode
 * steps of a generation, the stages of a prediction) and its arrays were freed. A server answers it
 * as a request that took too long.
 */
public final class DeadlineExceededException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception.
     *
     * @param message what stopped and after how much work
     */
    public DeadlineExceededException(String message) {
        super(message);
    }
}

package ai.djl.ttt.nn.inner;

/**
 * How the inner loop computes a mini-batch. Both give the same numbers; they differ in cost.
 *
 * <ul>
 *   <li>{@link #DUAL}: a few matrix products per mini-batch, never materialising per-token weights;
 *       the paper's hardware-efficient form for prefill and training (paper §2.5, reference.md
 *       §1.4).
 *   <li>{@link #PRIMAL}: each token's weights {@code W̄_n} are materialised, {@code (b, f, f)} per
 *       head; the recurrent form, cheapest for one token at a time (reference.md §1.5).
 * </ul>
 *
 * <p>Whatever the choice, a chunk that starts inside a mini-batch runs its first, partial
 * mini-batch in the primal form, and single decode steps always do.
 */
public enum InnerForm {
    /** Mini-batches in the dual form. */
    DUAL,
    /** Mini-batches in the primal form. */
    PRIMAL
}

package ai.djl.ttt.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import ai.djl.ttt.config.TttConfig;
import ai.djl.util.PairList;

/**
 * Root-mean-square normalisation over the last axis (Zhang &amp; Sennrich 2019), as the official
 * {@code RMSNorm} (reference.md §2): {@code y = x · rsqrt(mean(x²) + ε) · w}, with {@code w}
 * initialised to ones. DJL has no RMSNorm block.
 *
 * <p>Input {@code (…, C)}, output the same shape; parameter {@code weight (C)}.
 */
public final class RmsNorm extends AbstractBlock {

    private static final byte VERSION = 1;

    private final int width;
    private final float eps;
    private final Parameter weight;

    private RmsNorm(Builder builder) {
        super(VERSION);
        width = builder.width;
        eps = builder.eps;
        weight =
                addParameter(
                        Parameter.builder()
                                .setName("weight")
                                .setType(Parameter.Type.GAMMA)
                                .optShape(new Shape(width))
                                .optInitializer(Initializer.ONES)
                                .build());
    }

    /**
     * Normalises by the root mean square over the last axis and scales.
     *
     * @param x the input {@code (…, C)}
     * @param weight the scale {@code (C)}
     * @param eps ε, added to the mean square
     * @return {@code x · rsqrt(mean(x²) + ε) · weight}
     */
    public static NDArray rmsNorm(NDArray x, NDArray weight, float eps) {
        int last = x.getShape().dimension() - 1;
        NDArray meanSquare = x.mul(x).mean(new int[] {last}, true);
        return x.div(meanSquare.add(eps).sqrt()).mul(weight);
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore,
            NDList inputs,
            boolean training,
            PairList<String, Object> params) {
        NDArray x = inputs.singletonOrThrow();
        return new NDList(
                rmsNorm(x, parameterStore.getValue(weight, x.getDevice(), training), eps));
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }

    /**
     * Builds the RMSNorm of a model's config: width {@code hidden_size}, ε {@code rms_norm_eps}
     * (every RMSNorm of the official {@code TTTForCausalLM} has these).
     *
     * @param config the config
     * @return the block
     */
    public static RmsNorm fromConfig(TttConfig config) {
        return builder()
                .setWidth(config.getHiddenSize())
                .optEps((float) config.getRmsNormEps())
                .build();
    }

    /**
     * Creates a builder.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /** The builder of {@link RmsNorm}. */
    public static final class Builder {
        private int width;
        private float eps = 1e-6f;

        Builder() {}

        /**
         * Sets the width C of the normalised axis (required).
         *
         * @param width C
         * @return this builder
         */
        public Builder setWidth(int width) {
            this.width = width;
            return this;
        }

        /**
         * Sets ε ({@code rms_norm_eps}, 1e-6 by default).
         *
         * @param eps ε
         * @return this builder
         */
        public Builder optEps(float eps) {
            this.eps = eps;
            return this;
        }

        /**
         * Builds the block.
         *
         * @return the block
         */
        public RmsNorm build() {
            if (width < 1) {
                throw new IllegalArgumentException("RmsNorm width must be >= 1, got " + width);
            }
            return new RmsNorm(this);
        }
    }
}

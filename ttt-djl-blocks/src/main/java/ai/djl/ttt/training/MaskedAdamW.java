package ai.djl.ttt.training;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.ParameterTracker;
import ai.djl.training.tracker.Tracker;
import ai.djl.ttt.nn.TttLayer;
import ai.djl.ttt.runtime.AtomicFiles;
import ai.djl.ttt.runtime.NoGrad;
import ai.djl.util.Pair;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * AdamW (Adam with decoupled weight decay, Loshchilov &amp; Hutter 2019) as PyTorch's {@code
 * torch.optim.AdamW} computes it, with two things DJL 0.36.0's {@code AdamW} lacks:
 *
 * <ul>
 *   <li>a per-parameter decay mask: by default only weight matrices are decayed, not biases, norms,
 *       the inner learning-rate bias, {@code learnable_token_idx}, nor the TTT inner model's
 *       initial weights {@code W1, W2} (the hidden state's starting point, which decay would pull
 *       to zero);
 *   <li>a state ({@code m}, {@code v}, step counts) that can be saved and restored, so that
 *       training resumes exactly where it stopped.
 * </ul>
 *
 * <p>Several devices: DJL's parameter server sums the devices' gradients and then calls {@link
 * #update} once for every device's copy of a parameter, each with the summed gradient. So the state
 * is kept per (parameter, device), and each copy counts its own steps: every copy makes exactly the
 * update that one device would make, and the step count is that of optimizer steps, not of {@code
 * update} calls. (DJL 0.36.0's {@code Adam} keys its moments by device too, but counts every call
 * as a step.)
 *
 * <p>Update, per parameter at step t: {@code w ← w − lr·λ·w} (if decayed), {@code m ← β1 m + (1−β1)
 * g}, {@code v ← β2 v + (1−β2) g²}, {@code w ← w − lr · (m / (1−β1^t)) / (√(v / (1−β2^t)) + ε)}.
 */
public final class MaskedAdamW extends Optimizer {

    private final ParameterTracker learningRate;
    private final float beta1;
    private final float beta2;
    private final float epsilon;
    private final float weightDecay;
    private final Map<String, String> names;
    private final Map<String, Parameter> parameters;
    private final Set<String> decayed;

    /** m, v and step count of each (parameter id, device) copy. */
    private final Map<Copy, Moments> states = new ConcurrentHashMap<>();

    /** A restored state by parameter id: where every device's copy starts after {@link #load}. */
    private final Map<String, Moments> restored = new ConcurrentHashMap<>();

    /** Which copy an array is: its device (a test substitutes this; one CPU has one device). */
    private Function<NDArray, Object> copyOf = NDArray::getDevice;

    private MaskedAdamW(Builder builder) {
        super(builder);
        learningRate = builder.learningRate;
        beta1 = builder.beta1;
        beta2 = builder.beta2;
        epsilon = builder.epsilon;
        weightDecay = builder.weightDecay;
        names = new HashMap<>();
        parameters = new HashMap<>();
        decayed = ConcurrentHashMap.newKeySet();
        Predicate<Parameter> decay =
                builder.decay != null ? builder.decay : decayByDefault(builder.block);
        for (Pair<String, Parameter> p : builder.block.getParameters()) {
            names.put(p.getValue().getId(), p.getKey());
            parameters.put(p.getValue().getId(), p.getValue());
            if (decay.test(p.getValue())) {
                decayed.add(p.getValue().getId());
            }
        }
    }

    /**
     * Returns the default decay rule of a block: weight matrices, except the initial weights of the
     * TTT layers' inner models (the start of the hidden state, which decay would pull to zero; each
     * layer names them, {@link TttLayer#getInnerWeights}, whatever the inner model's depth).
     *
     * @param block the model's block
     * @return whether weight decay applies to a parameter
     */
    public static Predicate<Parameter> decayByDefault(Block block) {
        Set<String> innerInitial = new HashSet<>();
        collectInnerWeights(block, innerInitial);
        return p -> p.getType() == Parameter.Type.WEIGHT && !innerInitial.contains(p.getId());
    }

    private static void collectInnerWeights(Block block, Set<String> ids) {
        if (block instanceof TttLayer layer) {
            layer.getInnerWeights().forEach(p -> ids.add(p.getId()));
        }
        block.getChildren().values().forEach(child -> collectInnerWeights(child, ids));
    }

    /**
     * Creates a builder.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /** {@inheritDoc} */
    @Override
    public void update(String parameterId, NDArray weight, NDArray grad) {
        Moments state =
                states.computeIfAbsent(
                        new Copy(parameterId, copyOf.apply(weight)),
                        k -> start(parameterId, weight));
        int t = ++state.step;
        forgetRestored(parameterId, t);
        float lr = learningRate.getNewValue(parameterId, t);
        if (!Float.isFinite(lr)) {
            throw new IllegalStateException("learning rate is " + lr + " at step " + t);
        }
        NDArray m = state.mean;
        NDArray v = state.variance;
        // an update is not an op to differentiate; with autograd on (any thread but the engine's)
        // libtorch refuses in-place writes to a parameter that requires gradients
        try (NDScope scope = new NDScope();
                NoGrad off = NoGrad.open(weight.getManager())) {
            m.muli(beta1).addi(grad.mul(1 - beta1));
            v.muli(beta2).addi(grad.mul(grad).mul(1 - beta2));
            if (decayed.contains(parameterId)) {
                weight.muli(1 - lr * weightDecay);
            }
            double c1 = 1 - Math.pow(beta1, t);
            double c2 = 1 - Math.pow(beta2, t);
            NDArray denominator = v.div(c2).sqrt().add(epsilon);
            weight.subi(m.div(denominator).mul(lr / c1));
            // PyTorch accumulates gradients: clear them for the next step
            NDArray gradient = weight.getGradient();
            gradient.subi(gradient);
            scope.suppressNotUsedWarning();
        }
    }

    /** A new copy's state: the restored one if {@link #load} gave one, else zeros at step 0. */
    private Moments start(String parameterId, NDArray weight) {
        Moments from = restored.get(parameterId);
        if (from == null) {
            return new Moments(unscoped(weight.zerosLike()), unscoped(weight.zerosLike()), 0);
        }
        return new Moments(
                unscoped(copy(from.mean, weight.getDevice())),
                unscoped(copy(from.variance, weight.getDevice())),
                from.step);
    }

    /** A copy of its own ({@code toDevice(same device, true)} may share the memory on PyTorch). */
    private static NDArray copy(NDArray array, Device device) {
        return array.getDevice().equals(device) ? array.duplicate() : array.toDevice(device, true);
    }

    /**
     * Drops a restored state once no copy can still start from it: the first step after a resume
     * creates every device's copy, so a copy at the second step means all exist.
     */
    private void forgetRestored(String parameterId, int step) {
        Moments from = restored.get(parameterId);
        if (from != null && step >= from.step + 2) {
            restored.remove(parameterId);
            from.close();
        }
    }

    private static NDArray unscoped(NDArray array) {
        NDScope.unregister(array);
        return array;
    }

    /**
     * Returns the number of optimizer steps done so far (the largest step count of any parameter's
     * copy; several devices' copies of one parameter count one step together).
     *
     * @return the step
     */
    public int getStep() {
        int step = states.values().stream().mapToInt(m -> m.step).max().orElse(0);
        int resumed = restored.values().stream().mapToInt(m -> m.step).max().orElse(0);
        return Math.max(step, resumed);
    }

    /**
     * Identifies the copies of a parameter by something other than their device: for tests that
     * play several devices on one CPU (where DJL's PyTorch engine has a single device).
     *
     * @param copyOf which copy an array is
     */
    void identifyCopiesBy(Function<NDArray, Object> copyOf) {
        this.copyOf = copyOf;
    }

    /** The state of the copy a saved file holds: the parameter's own array's, else any copy's. */
    private Moments saved(String id) {
        Parameter parameter = parameters.get(id);
        if (parameter != null && parameter.isInitialized()) {
            Moments own = states.get(new Copy(id, copyOf.apply(parameter.getArray())));
            if (own != null) {
                return own;
            }
        }
        for (Map.Entry<Copy, Moments> e : states.entrySet()) {
            if (e.getKey().parameterId().equals(id)) {
                return e.getValue();
            }
        }
        return restored.get(id);
    }

    /**
     * Returns whether a parameter is decayed.
     *
     * @param parameter the parameter
     * @return true if weight decay applies to it
     */
    public boolean isDecayed(Parameter parameter) {
        return decayed.contains(parameter.getId());
    }

    /**
     * Writes {@code m}, {@code v} and the step count of every parameter, by parameter name, as
     * {@code .npz}, atomically.
     *
     * @param file the destination
     * @param manager a manager for the step-count arrays
     * @throws IOException if writing fails
     */
    public void save(Path file, NDManager manager) throws IOException {
        try (NDManager scratch = manager.newSubManager()) {
            NDList list = new NDList();
            for (Map.Entry<String, String> e : names.entrySet()) {
                String id = e.getKey();
                Moments state = saved(id);
                if (state == null) {
                    continue;
                }
                NDArray m = state.mean.toDevice(scratch.getDevice(), true);
                m.attach(scratch);
                m.setName("m:" + e.getValue());
                NDArray v = state.variance.toDevice(scratch.getDevice(), true);
                v.attach(scratch);
                v.setName("v:" + e.getValue());
                NDArray t = scratch.create(new long[] {state.step});
                t.setName("t:" + e.getValue());
                list.add(m);
                list.add(v);
                list.add(t);
            }
            AtomicFiles.writeAtomically(
                    file,
                    tmp -> {
                        try (OutputStream os = Files.newOutputStream(tmp)) {
                            list.encode(os, NDList.Encoding.NPZ);
                        }
                    });
        }
    }

    /**
     * Restores a state written by {@link #save}. Parameters are matched by name.
     *
     * @param file the file
     * @param block the block whose parameters this optimizer updates
     * @throws IOException if reading fails
     * @throws MalformedModelException if the file does not match the parameters
     */
    public void load(Path file, Block block) throws IOException, MalformedModelException {
        Map<String, Parameter> byName = new LinkedHashMap<>();
        for (Pair<String, Parameter> p : block.getParameters()) {
            byName.put(p.getKey(), p.getValue());
        }
        NDList list;
        NDManager manager = byName.values().iterator().next().getArray().getManager();
        try (InputStream is = Files.newInputStream(file)) {
            list = NDList.decode(manager, is);
        } catch (RuntimeException e) {
            throw new MalformedModelException(file + " is not a readable optimizer state", e);
        }
        Map<String, NDArray> means = new LinkedHashMap<>();
        Map<String, NDArray> variances = new LinkedHashMap<>();
        Map<String, Integer> steps = new LinkedHashMap<>();
        for (NDArray array : list) {
            String[] kindAndName = array.getName().split(":", 2);
            Parameter p = kindAndName.length == 2 ? byName.get(kindAndName[1]) : null;
            if (p == null
                    || (!"t".equals(kindAndName[0])
                            && !array.getShape().equals(p.getArray().getShape()))) {
                list.close();
                throw new MalformedModelException(
                        file
                                + ": optimizer state '"
                                + array.getName()
                                + "' "
                                + array.getShape()
                                + " does not match the model's parameters");
            }
            String id = p.getId();
            switch (kindAndName[0]) {
                case "m":
                    means.put(id, array.toDevice(p.getArray().getDevice(), false));
                    break;
                case "v":
                    variances.put(id, array.toDevice(p.getArray().getDevice(), false));
                    break;
                default:
                    steps.put(id, (int) array.getLong(0));
                    array.close();
            }
        }
        for (String id : means.keySet()) {
            if (!steps.containsKey(id) || !variances.containsKey(id)) {
                list.close();
                throw new MalformedModelException(
                        file + ": optimizer state without t or v for '" + names.get(id) + "'");
            }
        }
        for (Map.Entry<String, Integer> e : steps.entrySet()) {
            String id = e.getKey();
            NDArray m = means.remove(id);
            NDArray v = variances.remove(id);
            if (m == null || v == null) {
                list.close();
                throw new MalformedModelException(
                        file + ": optimizer state without m or v for '" + names.get(id) + "'");
            }
            // every device's copy restarts from the saved state
            states.entrySet()
                    .removeIf(
                            s -> {
                                if (s.getKey().parameterId().equals(id)) {
                                    s.getValue().close();
                                    return true;
                                }
                                return false;
                            });
            Moments old = restored.put(id, new Moments(m, v, e.getValue()));
            if (old != null) {
                old.close();
            }
        }
    }

    /** One copy of a parameter: its id and its device. */
    private record Copy(String parameterId, Object device) {}

    /** Adam's moments of one copy and the steps it has taken. */
    private static final class Moments implements AutoCloseable {
        final NDArray mean;
        final NDArray variance;
        int step;

        Moments(NDArray mean, NDArray variance, int step) {
            this.mean = mean;
            this.variance = variance;
            this.step = step;
        }

        @Override
        public void close() {
            mean.close();
            variance.close();
        }
    }

    /** The builder of {@link MaskedAdamW}. */
    public static final class Builder extends OptimizerBuilder<Builder> {
        private ParameterTracker learningRate = Tracker.fixed(1e-3f);
        private float beta1 = 0.9f;
        private float beta2 = 0.95f;
        private float epsilon = 1e-8f;
        private float weightDecay = 0.1f;
        private Block block;
        private Predicate<Parameter> decay;

        Builder() {}

        /**
         * Sets the block whose parameters are updated (required: it names the parameters and
         * decides the decay mask).
         *
         * @param block the model's block, initialised
         * @return this builder
         */
        public Builder setBlock(Block block) {
            this.block = block;
            return this;
        }

        /**
         * Sets the learning rate schedule (fixed 1e-3 by default).
         *
         * @param tracker the schedule
         * @return this builder
         */
        public Builder optLearningRateTracker(ParameterTracker tracker) {
            this.learningRate = tracker;
            return this;
        }

        /**
         * Sets β1 and β2 (0.9 and 0.95 by default, the paper's values).
         *
         * @param beta1 β1
         * @param beta2 β2
         * @return this builder
         */
        public Builder optBetas(float beta1, float beta2) {
            this.beta1 = beta1;
            this.beta2 = beta2;
            return this;
        }

        /**
         * Sets ε (1e-8 by default).
         *
         * @param epsilon ε
         * @return this builder
         */
        public Builder optEpsilon(float epsilon) {
            this.epsilon = epsilon;
            return this;
        }

        /**
         * Sets the decoupled weight decay λ (0.1 by default, the paper's value).
         *
         * @param weightDecay λ
         * @return this builder
         */
        public Builder optWeightDecay(float weightDecay) {
            this.weightDecay = weightDecay;
            return this;
        }

        /**
         * Sets which parameters are decayed (default {@link #decayByDefault(Block)} of the block).
         *
         * @param decay the rule
         * @return this builder
         */
        public Builder optDecayFilter(Predicate<Parameter> decay) {
            this.decay = decay;
            return this;
        }

        /** {@inheritDoc} */
        @Override
        protected Builder self() {
            return this;
        }

        /**
         * Builds the optimizer.
         *
         * @return the optimizer
         */
        public MaskedAdamW build() {
            if (block == null) {
                throw new IllegalArgumentException("setBlock(block) is required");
            }
            return new MaskedAdamW(this);
        }
    }
}

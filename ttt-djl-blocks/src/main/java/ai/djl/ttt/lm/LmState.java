package ai.djl.ttt.lm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ttt.baselines.KvCache;
import ai.djl.ttt.nn.LayerState;
import ai.djl.ttt.nn.SequenceLayer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * The decode state of a {@link CausalLm}: the position of each row and, per block, the sequence
 * layer's state (a {@code TttState} of fixed size, or a growing {@link KvCache}) and the pre-conv
 * window.
 *
 * <p>In DJL's {@code NDList} protocol it travels after the token ids: {@code [positions (B)]} for a
 * fresh state, otherwise {@code [positions]} followed, per block, by the layer state's arrays
 * (without its positions) and the pre-conv window if the model has one.
 */
public final class LmState implements AutoCloseable {

    private final long[] positions;
    private final List<ResidualBlock.State> blocks;

    LmState(long[] positions, List<ResidualBlock.State> blocks) {
        this.positions = positions.clone();
        this.blocks = blocks == null ? null : Collections.unmodifiableList(blocks);
    }

    /**
     * Returns the state before the first token.
     *
     * @param batchSize B
     * @return the fresh state
     */
    public static LmState start(int batchSize) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        }
        return new LmState(new long[batchSize], null);
    }

    /**
     * Returns B.
     *
     * @return the batch size
     */
    public int getBatchSize() {
        return positions.length;
    }

    /**
     * Returns the absolute position of the next token of each row (the number of tokens read).
     *
     * @return a copy of the positions
     */
    public long[] getPositions() {
        return positions.clone();
    }

    /**
     * Returns the state of block {@code i}.
     *
     * @param i the block index
     * @return the state, or {@code null} for a fresh state
     */
    public ResidualBlock.State block(int i) {
        return blocks == null ? null : blocks.get(i);
    }

    /**
     * Returns the state as arrays; see the class documentation for the layout.
     *
     * @param manager the manager of arrays created for the list
     * @return the arrays
     */
    public NDList toNDList(NDManager manager) {
        NDList list = new NDList(manager.create(positions));
        if (blocks == null) {
            return list;
        }
        for (ResidualBlock.State block : blocks) {
            NDList layer = block.layer().toNDList(manager);
            layer.get(0).close();
            list.addAll(layer.subNDList(1));
            if (block.convWindow() != null) {
                list.add(block.convWindow());
            }
        }
        return list;
    }

    /**
     * Rebuilds a state from its {@code NDList} form.
     *
     * @param list the arrays
     * @param model the model the state belongs to
     * @return the state
     * @throws IllegalArgumentException if the arrays do not have the model's layout
     */
    public static LmState fromNDList(NDList list, CausalLm model) {
        if (list.isEmpty() || list.get(0).getDataType() != DataType.INT64) {
            throw new IllegalArgumentException(
                    "a model state starts with the positions, an int64 array (B)");
        }
        NDArray positions = list.get(0);
        if (list.size() == 1) {
            long[] p = positions.toLongArray();
            if (Arrays.stream(p).anyMatch(v -> v != 0)) {
                throw new IllegalArgumentException(
                        "a state without arrays must be at position 0, got " + Arrays.toString(p));
            }
            return new LmState(p, null);
        }
        boolean conv = model.getConfig().isPreConv();
        int expected = 1;
        for (ResidualBlock block : model.getBlocks()) {
            expected += block.getSequenceLayer().stateArrayCount() - 1 + (conv ? 1 : 0);
        }
        if (list.size() != expected) {
            throw new IllegalArgumentException(
                    "expected a model state of "
                            + expected
                            + " arrays for "
                            + model.getBlocks().size()
                            + " blocks, got "
                            + list.size());
        }
        List<ResidualBlock.State> blocks = new ArrayList<>();
        int at = 1;
        for (ResidualBlock block : model.getBlocks()) {
            SequenceLayer<? extends LayerState> layer = block.getSequenceLayer();
            int n = layer.stateArrayCount() - 1;
            NDList layerList = new NDList(positions);
            layerList.addAll(list.subNDList(at, at + n));
            at += n;
            NDArray window = conv ? list.get(at++) : null;
            blocks.add(new ResidualBlock.State(layer.stateFromNDList(layerList), window));
        }
        return new LmState(positions.toLongArray(), blocks);
    }

    /**
     * Stacks the states of separately processed sequences into one batch; rows keep their positions
     * (different prompt lengths are fine).
     *
     * @param states states of the same model, each after at least one token
     * @param model the model
     * @return the batch state
     */
    public static LmState concat(List<LmState> states, CausalLm model) {
        List<Long> positions = new ArrayList<>();
        for (LmState s : states) {
            if (s.blocks == null) {
                throw new IllegalArgumentException(
                        "a fresh state has no arrays to concatenate: prefill each sequence first");
            }
            for (long p : s.positions) {
                positions.add(p);
            }
        }
        List<ResidualBlock.State> blocks = new ArrayList<>();
        for (int i = 0; i < model.getBlocks().size(); i++) {
            List<LayerState> layers = new ArrayList<>();
            NDList windows = new NDList();
            for (LmState s : states) {
                layers.add(s.blocks.get(i).layer());
                if (s.blocks.get(i).convWindow() != null) {
                    windows.add(s.blocks.get(i).convWindow());
                }
            }
            LayerState merged = concatLayer(model.getBlocks().get(i).getSequenceLayer(), layers);
            blocks.add(
                    new ResidualBlock.State(
                            merged, windows.isEmpty() ? null : NDArrays.concat(windows, 0)));
        }
        return new LmState(positions.stream().mapToLong(Long::longValue).toArray(), blocks);
    }

    @SuppressWarnings("unchecked")
    private static <S extends LayerState> S concatLayer(
            SequenceLayer<S> layer, List<LayerState> states) {
        List<S> typed = new ArrayList<>();
        for (LayerState s : states) {
            typed.add((S) s);
        }
        return layer.concatStates(typed);
    }

    /**
     * Moves every array of this state to another manager, e.g. out of a per-step manager that is
     * about to close.
     *
     * @param manager the new owner
     */
    public void attach(NDManager manager) {
        arrays().forEach(a -> a.attach(manager));
    }

    /**
     * Returns every array of this state (not the positions).
     *
     * @return the arrays
     */
    public List<NDArray> arrays() {
        List<NDArray> arrays = new ArrayList<>();
        if (blocks != null) {
            for (ResidualBlock.State block : blocks) {
                arrays.addAll(block.layer().arrays());
                if (block.convWindow() != null) {
                    arrays.add(block.convWindow());
                }
            }
        }
        return arrays;
    }

    /** Closes every array of this state. */
    @Override
    public void close() {
        if (blocks != null) {
            for (ResidualBlock.State block : blocks) {
                block.layer().close();
                if (block.convWindow() != null) {
                    block.convWindow().close();
                }
            }
        }
    }
}

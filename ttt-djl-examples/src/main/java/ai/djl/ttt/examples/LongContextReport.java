package ai.djl.ttt.examples;

import ai.djl.ttt.recall.AssociativeRecall;
import java.io.IOException;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/** The tables and plots of {@code ttt long-context}, written below its marker. */
final class LongContextReport {

    private final LongContextCommand c;
    private final List<AssociativeRecall> tasks;
    private final LongContextCommand.Results results;
    private final double minutes;
    private final String machine;

    /** Each contender's sweep, in the order of {@code --contenders}. */
    private final Map<String, List<LongContextStudy.RecallRun>> sweeps = new LinkedHashMap<>();

    /** Each contender's chosen run. */
    private final Map<String, LongContextStudy.RecallRun> chosen = new LinkedHashMap<>();

    LongContextReport(
            LongContextCommand command,
            List<AssociativeRecall> tasks,
            LongContextCommand.Results results,
            double minutes,
            String machine) {
        this.c = command;
        this.tasks = tasks;
        this.results = results;
        this.minutes = minutes;
        this.machine = machine;
        for (LongContextStudy.RecallRun run : results.sweep()) {
            sweeps.computeIfAbsent(run.job().contender(), k -> new ArrayList<>()).add(run);
        }
        sweeps.forEach((k, runs) -> chosen.put(k, LongContextCommand.best(runs)));
    }

    void write(Path file) throws IOException {
        Path images = file.toAbsolutePath().getParent().resolve("img");
        StringBuilder md = new StringBuilder();
        md.append("```\n./bin/ttt long-context")
                .append(c.quick ? " --quick" : "")
                .append(c.full ? " --full" : "")
                .append("\n```\n\n")
                .append(
                        String.format(
                                Locale.ROOT,
                                "Run on %s: %s. Wall time %.1f min (jobs reused from the work"
                                        + " folder count as zero).%n%n",
                                LocalDate.now(),
                                machine,
                                minutes));
        recallSection(md, images);
        if (results.variants().stream().anyMatch(r -> r.job().heads() > 0)) {
            stateSection(md, images);
        }
        if (results.variants().stream().anyMatch(r -> r.job().heads() == 0)) {
            stallSection(md);
        }
        if (!results.position().isEmpty()) {
            positionSection(md, images);
        }
        Report.write(file, LongContextCommand.GENERATED, "Long context", md.toString());
    }

    private void recallSection(StringBuilder md, Path images) throws IOException {
        int keys = (c.vocab - 1) / 2;
        md.append("## Recall (MQAR)\n\n")
                .append(
                        String.format(
                                Locale.ROOT,
                                "Vocabulary %d (%d keys, %d values: chance is %.1f %%). Every"
                                        + " contender: the `tiny` scaffold (C = 64, 2 blocks, %d"
                                        + " heads, untied embeddings; the SwiGLU width set so that"
                                        + " every contender has the same number of parameters),"
                                        + " trained for %d steps of %d tokens on the mixture of"
                                        + " %s (one setting per step, in turn; the same sequences"
                                        + " for every contender and rate), AdamW with 10 %%"
                                        + " warm-up and cosine decay to a tenth of the peak rate,"
                                        + " weight decay 0.1, clipping 1.0, seed %d, at each peak"
                                        + " rate of %s. The rate kept is the one with the best"
                                        + " mean accuracy over the pairs sweep on %d validation"
                                        + " sequences per setting (other seeds than the test"
                                        + " ones); the tables report %d test sequences per"
                                        + " setting. Accuracy: the most likely next token at each"
                                        + " query key is its value.%n%n",
                                c.vocab,
                                keys,
                                c.vocab - 1 - keys,
                                100.0 / (c.vocab - 1 - keys),
                                scaffoldHeads(),
                                c.steps,
                                c.tokensPerStep,
                                c.trainingTasks().stream()
                                        .map(t -> t.pairs() + " pairs in " + t.length())
                                        .collect(Collectors.joining(", ")),
                                c.seed,
                                rates(),
                                Math.max(1, c.evalSequences / 2),
                                c.evalSequences));
        md.append("### Every contender at its best\n\n");
        md.append("| contender | parameters | decode state (floats) |");
        for (float lr : c.learningRates) {
            md.append(String.format(Locale.ROOT, " validation at %s |", rate(lr)));
        }
        md.append(" chosen rate | steps | training s | final loss |\n|---|---:|---:|");
        md.append("---:|".repeat(c.learningRates.length)).append("---:|---:|---:|---:|\n");
        for (Map.Entry<String, List<LongContextStudy.RecallRun>> e : sweeps.entrySet()) {
            LongContextStudy.RecallRun best = chosen.get(e.getKey());
            md.append(
                    String.format(
                            Locale.ROOT,
                            "| %s | %,d | %,d |",
                            best.name(),
                            best.parameters(),
                            best.stateFloats()));
            for (float lr : c.learningRates) {
                LongContextStudy.RecallRun run =
                        e.getValue().stream()
                                .filter(r -> r.job().learningRate() == lr)
                                .findFirst()
                                .orElseThrow();
                String cell = String.format(Locale.ROOT, "%.1f %%", 100 * run.validation());
                md.append(' ').append(run == best ? "**" + cell + "**" : cell).append(" |");
            }
            md.append(
                    String.format(
                            Locale.ROOT,
                            " %s | %d | %.0f | %.3f |%n",
                            rate(best.job().learningRate()),
                            best.job().steps(),
                            best.seconds(),
                            best.finalLoss()));
        }
        md.append(
                String.format(
                        Locale.ROOT,
                        "%nDecode state: the floats a model carries from token to token after a"
                                + " %d-token prompt (every array of its `LmState`, measured):"
                                + " the TTT weights, linear-attention sums and convolution"
                                + " windows, or attention's key/value cache. Final loss: mean"
                                + " training loss (nats per query) over the last tenth of the"
                                + " steps.%n%n",
                        c.pairsSweepLength));
        List<AssociativeRecall> byLength =
                tasks.stream()
                        .filter(t -> t.pairs() == c.lengthSweepPairs)
                        .sorted(Comparator.comparingInt(AssociativeRecall::length))
                        .toList();
        List<AssociativeRecall> byPairs =
                tasks.stream()
                        .filter(t -> t.length() == c.pairsSweepLength)
                        .sorted(Comparator.comparingInt(AssociativeRecall::pairs))
                        .toList();
        md.append(
                String.format(
                        Locale.ROOT,
                        "### Accuracy against sequence length (%d pairs; test, chosen rates)%n%n",
                        c.lengthSweepPairs));
        table(md, byLength, true);
        md.append(
                String.format(
                        Locale.ROOT,
                        "%n### Accuracy against number of pairs (length %d; test, chosen rates)%n%n",
                        c.pairsSweepLength));
        table(md, byPairs, false);
        md.append("\n![recall against length](img/recall-length.png)\n\n")
                .append("![recall against pairs](img/recall-pairs.png)\n\n");
        chart(byLength, true, "sequence length", "Recall against sequence length")
                .write(images.resolve("recall-length.png"));
        chart(byPairs, false, "key-value pairs", "Recall against number of pairs")
                .write(images.resolve("recall-pairs.png"));
    }

    private void table(StringBuilder md, List<AssociativeRecall> settings, boolean byLength) {
        md.append("| contender | rate |");
        for (AssociativeRecall t : settings) {
            md.append(' ').append(byLength ? t.length() : t.pairs()).append(" |");
        }
        md.append("\n|---|---:|");
        md.append("---:|".repeat(settings.size())).append('\n');
        for (LongContextStudy.RecallRun r : chosen.values()) {
            md.append(
                    String.format(
                            Locale.ROOT, "| %s | %s |", r.name(), rate(r.job().learningRate())));
            for (AssociativeRecall t : settings) {
                md.append(String.format(Locale.ROOT, " %.1f %% |", 100 * accuracy(r, t)));
            }
            md.append('\n');
        }
    }

    private LineChart chart(
            List<AssociativeRecall> settings, boolean byLength, String xLabel, String title) {
        LineChart chart = new LineChart(title, xLabel, "exact-match accuracy (%)", false);
        double[] xs =
                settings.stream().mapToDouble(t -> byLength ? t.length() : t.pairs()).toArray();
        for (LongContextStudy.RecallRun r : chosen.values()) {
            double[] ys = settings.stream().mapToDouble(t -> 100 * accuracy(r, t)).toArray();
            chart.add(r.name(), xs, ys);
        }
        return chart;
    }

    private double accuracy(LongContextStudy.RecallRun run, AssociativeRecall task) {
        return run.accuracy()[tasks.indexOf(task)];
    }

    /** Recall at the largest pair counts against decode-state floats (Zoology's main plot). */
    private void stateSection(StringBuilder md, Path images) throws IOException {
        List<AssociativeRecall> hardest =
                tasks.stream()
                        .filter(t -> t.length() == c.pairsSweepLength)
                        .sorted(Comparator.comparingInt(AssociativeRecall::pairs).reversed())
                        .limit(2)
                        .sorted(Comparator.comparingInt(AssociativeRecall::pairs))
                        .toList();
        md.append("## Recall against state size\n\n")
                .append(
                        String.format(
                                Locale.ROOT,
                                "Fixed-state contenders trained again with other head counts"
                                        + " (same width and parameters; a layer's state is C²/heads"
                                        + " floats for TTT-Linear and linear attention, 8C²/heads"
                                        + " for TTT-MLP), each at the rate its sweep chose;"
                                        + " attention's key/value cache at the same length (%d)"
                                        + " beside them. Test accuracy at length %d.%n%n",
                                c.pairsSweepLength,
                                c.pairsSweepLength));
        md.append("| contender | heads | decode state (floats) |");
        for (AssociativeRecall t : hardest) {
            md.append(' ').append(t.pairs()).append(" pairs |");
        }
        md.append("\n|---|---:|---:|").append("---:|".repeat(hardest.size())).append('\n');
        Map<String, List<LongContextStudy.RecallRun>> bySize = new LinkedHashMap<>();
        for (LongContextStudy.RecallRun best : chosen.values()) {
            List<LongContextStudy.RecallRun> runs = new ArrayList<>();
            runs.add(best);
            results.variants().stream()
                    .filter(
                            r ->
                                    r.job().heads() > 0
                                            && r.job().contender().equals(best.job().contender()))
                    .forEach(runs::add);
            runs.sort(Comparator.comparingLong(LongContextStudy.RecallRun::stateFloats));
            bySize.put(best.name(), runs);
            for (LongContextStudy.RecallRun r : runs) {
                md.append(
                        String.format(
                                Locale.ROOT,
                                "| %s | %d | %,d |",
                                r.name(),
                                r.job().heads() > 0 ? r.job().heads() : scaffoldHeads(),
                                r.stateFloats()));
                for (AssociativeRecall t : hardest) {
                    md.append(String.format(Locale.ROOT, " %.1f %% |", 100 * accuracy(r, t)));
                }
                md.append('\n');
            }
        }
        md.append('\n');
        for (AssociativeRecall t : hardest) {
            String name = "recall-state-" + t.pairs() + ".png";
            LineChart chart =
                    new LineChart(
                            String.format(
                                    Locale.ROOT,
                                    "Recall against state size (%d pairs, length %d)",
                                    t.pairs(),
                                    t.length()),
                            "decode state (floats)",
                            "exact-match accuracy (%)",
                            false);
            for (Map.Entry<String, List<LongContextStudy.RecallRun>> e : bySize.entrySet()) {
                chart.add(
                        e.getKey(),
                        e.getValue().stream().mapToDouble(r -> r.stateFloats()).toArray(),
                        e.getValue().stream().mapToDouble(r -> 100 * accuracy(r, t)).toArray());
            }
            chart.write(images.resolve(name));
            md.append("![recall against state size](img/").append(name).append(")\n\n");
        }
    }

    /** The TTT-MLP runs that separate optimisation from capacity. */
    private void stallSection(StringBuilder md) {
        md.append("## Why TTT-MLP stalls: optimisation or capacity?\n\n")
                .append(
                        "Each TTT-MLP contender trained again at its chosen rate, changing one"
                                + " thing: a 10× larger inner learning rate (the inner loop's own"
                                + " optimisation) or an inner MLP of width f instead of 4f (a"
                                + " quarter of the hidden units: less capacity). If less capacity"
                                + " does as well, capacity is not what holds it back; if the"
                                + " larger inner rate does better, the inner optimisation is."
                                + " TTT-Linear, whose inner model is a single f × f map, is the"
                                + " reference."
                                + " Validation: mean over the pairs sweep; the rest test.\n\n");
        List<AssociativeRecall> byPairs =
                tasks.stream()
                        .filter(t -> t.length() == c.pairsSweepLength)
                        .sorted(Comparator.comparingInt(AssociativeRecall::pairs))
                        .toList();
        md.append("| run | inner lr | inner width | steps | validation |");
        for (AssociativeRecall t : byPairs) {
            md.append(' ').append(t.pairs()).append(" pairs |");
        }
        md.append(" final loss | training s |\n|---|---:|---:|---:|---:|")
                .append("---:|".repeat(byPairs.size()))
                .append("---:|---:|\n");
        List<LongContextStudy.RecallRun> rows = new ArrayList<>();
        for (LongContextStudy.RecallRun best : chosen.values()) {
            String contender = best.job().contender();
            boolean mlp = c.stallContenders.contains(contender);
            if (mlp || contender.startsWith("linear:")) {
                rows.add(best);
            }
            if (mlp) {
                results.variants().stream()
                        .filter(r -> r.job().heads() == 0 && r.job().contender().equals(contender))
                        .forEach(rows::add);
            }
        }
        for (LongContextStudy.RecallRun r : rows) {
            RecallJob j = r.job();
            double innerLr =
                    j.innerLr() > 0
                            ? j.innerLr()
                            : LongContextStudy.config(j.contender(), c.vocab, null).getTttBaseLr();
            String width =
                    j.contender().startsWith("linear:")
                            ? "— (linear)"
                            : (j.innerHidden() > 0 ? j.innerHidden() : 4) + "f";
            md.append(
                    String.format(
                            Locale.ROOT,
                            "| %s | %s | %s | %d | %.1f %% |",
                            r.name(),
                            innerLr,
                            width,
                            j.steps(),
                            100 * r.validation()));
            for (AssociativeRecall t : byPairs) {
                md.append(String.format(Locale.ROOT, " %.1f %% |", 100 * accuracy(r, t)));
            }
            md.append(String.format(Locale.ROOT, " %.3f | %.0f |%n", r.finalLoss(), r.seconds()));
        }
        md.append('\n');
    }

    private void positionSection(StringBuilder md, Path images) throws IOException {
        int bin = c.lmContext / c.lmBins;
        List<LongContextStudy.PositionRun> runs = results.position();
        int windows = runs.get(0).loss().length;
        md.append("## Loss by position\n\n")
                .append(
                        String.format(
                                Locale.ROOT,
                                "Byte-level LMs (the `tiny` scaffold, parameters matched as"
                                        + " above) trained for %d steps of %d windows x %d bytes"
                                        + " on the bundled corpus (90 %%), peak lr %s, seed %d"
                                        + " (checkpointed in the work folder, resumable). The loss"
                                        + " of every position of %d held-out windows (%s the"
                                        + " held-out 10 %%), in bins of %d positions, bits per"
                                        + " byte (nats / ln 2): mean ± 1.96 standard errors over"
                                        + " the windows.%n%n",
                                c.lmSteps,
                                c.lmBatch,
                                c.lmContext,
                                rate(c.lmLearningRate),
                                c.seed,
                                windows,
                                c.lmWindows == 0
                                        ? "every non-overlapping window of"
                                        : "evenly spread over",
                                bin));
        md.append("| positions |");
        for (LongContextStudy.PositionRun r : runs) {
            md.append(' ').append(r.name()).append(" |");
        }
        md.append("\n|---|").append("---:|".repeat(runs.size())).append('\n');
        double[] xs = new double[c.lmBins];
        double[][] ys = new double[runs.size()][c.lmBins];
        double[][][] perWindow = new double[runs.size()][][];
        for (int r = 0; r < runs.size(); r++) {
            perWindow[r] = binned(runs.get(r).loss(), bin);
        }
        for (int b = 0; b < c.lmBins; b++) {
            xs[b] = (b + 1) * bin;
            md.append(String.format(Locale.ROOT, "| %d–%d |", b * bin, (b + 1) * bin - 1));
            for (int r = 0; r < runs.size(); r++) {
                final int bb = b;
                double[] values = Arrays.stream(perWindow[r]).mapToDouble(w -> w[bb]).toArray();
                ys[r][b] = mean(values);
                md.append(
                        String.format(Locale.ROOT, " %.3f ± %.3f |", ys[r][b], halfWidth(values)));
            }
            md.append('\n');
        }
        if (c.lmBins > 2) {
            md.append(
                    String.format(
                            Locale.ROOT,
                            "| last bin − bin %d–%d, paired by window |",
                            bin,
                            2 * bin - 1));
            for (int r = 0; r < runs.size(); r++) {
                double[] gain =
                        Arrays.stream(perWindow[r])
                                .mapToDouble(w -> w[c.lmBins - 1] - w[1])
                                .toArray();
                md.append(
                        String.format(Locale.ROOT, " %+.3f ± %.3f |", mean(gain), halfWidth(gain)));
            }
            md.append('\n');
        }
        md.append("| steps |");
        for (LongContextStudy.PositionRun r : runs) {
            md.append(' ').append(r.steps()).append(" |");
        }
        md.append("\n| training s |");
        for (LongContextStudy.PositionRun r : runs) {
            md.append(String.format(Locale.ROOT, " %.0f |", r.seconds()));
        }
        md.append("\n| parameters |");
        for (LongContextStudy.PositionRun r : runs) {
            md.append(String.format(Locale.ROOT, " %,d |", r.parameters()));
        }
        md.append("\n\n![loss by position](img/position-loss.png)\n");
        LineChart chart =
                new LineChart(
                                "Held-out loss by position (" + c.lmContext + "-byte windows)",
                                "position (end of bin)",
                                "bits per byte",
                                false)
                        .fitY();
        for (int r = 0; r < runs.size(); r++) {
            chart.add(runs.get(r).name(), xs, ys[r]);
        }
        chart.write(images.resolve("position-loss.png"));
    }

    /** Each window's mean loss per bin, bits per byte: {@code (windows, bins)}. */
    private double[][] binned(float[][] loss, int bin) {
        double[][] out = new double[loss.length][c.lmBins];
        for (int w = 0; w < loss.length; w++) {
            for (int b = 0; b < c.lmBins; b++) {
                double sum = 0;
                for (int t = b * bin; t < (b + 1) * bin; t++) {
                    sum += loss[w][t];
                }
                out[w][b] = sum / bin / Math.log(2);
            }
        }
        return out;
    }

    private static double mean(double[] values) {
        return Arrays.stream(values).average().orElse(Double.NaN);
    }

    /** 1.96 standard errors of the mean (0 for a single value). */
    private static double halfWidth(double[] values) {
        int n = values.length;
        if (n < 2) {
            return 0;
        }
        double m = mean(values);
        double ss = 0;
        for (double v : values) {
            ss += (v - m) * (v - m);
        }
        return 1.96 * Math.sqrt(ss / (n - 1) / n);
    }

    private int scaffoldHeads() {
        return LongContextStudy.config(c.contenders.get(0), c.vocab, null).getNumAttentionHeads();
    }

    private String rates() {
        List<String> all = new ArrayList<>();
        for (float lr : c.learningRates) {
            all.add(rate(lr));
        }
        return String.join(", ", all);
    }

    private static String rate(float lr) {
        return String.format(Locale.ROOT, "%.0e", lr).replace("e-0", "e-");
    }
}

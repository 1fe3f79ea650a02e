package ai.djl.ttt.examples;

import ai.djl.ttt.recall.AssociativeRecall;
import java.io.IOException;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/** The tables and plots of {@code ttt long-context}, written below its marker. */
final class LongContextReport {

    private final LongContextCommand c;
    private final List<AssociativeRecall> tasks;
    private final List<LongContextCommand.RecallRun> recall;
    private final List<LongContextCommand.PositionRun> position;
    private final double minutes;
    private final String machine;

    LongContextReport(
            LongContextCommand command,
            List<AssociativeRecall> tasks,
            List<LongContextCommand.RecallRun> recall,
            List<LongContextCommand.PositionRun> position,
            double minutes,
            String machine) {
        this.c = command;
        this.tasks = tasks;
        this.recall = recall;
        this.position = position;
        this.minutes = minutes;
        this.machine = machine;
    }

    void write(Path file) throws IOException {
        Path images = file.toAbsolutePath().getParent().resolve("img");
        StringBuilder md = new StringBuilder();
        md.append("```\n./bin/ttt long-context")
                .append(c.quick ? " --quick" : "")
                .append("\n```\n\n")
                .append(
                        String.format(
                                Locale.ROOT,
                                "Run on %s: %s. Wall time %.1f min.%n%n",
                                LocalDate.now(),
                                machine,
                                minutes));
        recallSection(md, images);
        if (!position.isEmpty()) {
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
                                        + " contender: the `tiny` scaffold (C = 64, 2 blocks, 4"
                                        + " heads, untied embeddings; the SwiGLU width set so that"
                                        + " every contender has the same number of parameters),"
                                        + " trained once"
                                        + " for %d steps of %d tokens on the mixture of %s"
                                        + " (one setting per step, in turn; the same sequences"
                                        + " for every contender), AdamW lr %.0e"
                                        + " with 10 %% warm-up and cosine decay, weight decay"
                                        + " 0.1, clipping 1.0, seed %d. Accuracy: the most likely"
                                        + " next token at each query key is its value, on %d"
                                        + " held-out sequences per setting.%n%n",
                                c.vocab,
                                keys,
                                c.vocab - 1 - keys,
                                100.0 / (c.vocab - 1 - keys),
                                c.steps,
                                c.tokensPerStep,
                                c.trainingTasks().stream()
                                        .map(t -> t.pairs() + " pairs in " + t.length())
                                        .collect(Collectors.joining(", ")),
                                c.learningRate,
                                c.seed,
                                c.evalSequences));
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
                        "### Accuracy against sequence length (%d pairs)%n%n",
                        c.lengthSweepPairs));
        table(md, byLength, true);
        md.append(
                String.format(
                        Locale.ROOT,
                        "%n### Accuracy against number of pairs (length %d)%n%n",
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
        md.append("| contender | parameters | training s |");
        for (AssociativeRecall t : settings) {
            md.append(' ').append(byLength ? t.length() : t.pairs()).append(" |");
        }
        md.append("\n|---|---:|---:|");
        md.append("---:|".repeat(settings.size())).append('\n');
        for (LongContextCommand.RecallRun r : recall) {
            md.append(
                    String.format(
                            Locale.ROOT,
                            "| %s | %,d | %.0f |",
                            r.name(),
                            r.parameters(),
                            r.seconds()));
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
        for (LongContextCommand.RecallRun r : recall) {
            double[] ys = settings.stream().mapToDouble(t -> 100 * accuracy(r, t)).toArray();
            chart.add(r.name(), xs, ys);
        }
        return chart;
    }

    private double accuracy(LongContextCommand.RecallRun run, AssociativeRecall task) {
        return run.accuracy()[tasks.indexOf(task)];
    }

    private void positionSection(StringBuilder md, Path images) throws IOException {
        int bin = c.lmContext / c.lmBins;
        md.append("## Loss by position\n\n")
                .append(
                        String.format(
                                Locale.ROOT,
                                "Byte-level LMs (the `tiny` scaffold, parameters matched as"
                                        + " above) trained for %d steps of %d windows x %d bytes"
                                        + " on the bundled corpus (90 %%), lr 3e-3, seed %d; the"
                                        + " loss of each position averaged over %d windows"
                                        + " evenly spread over the held-out 10 %% (overlapping"
                                        + " where it holds fewer), in bins of %d positions (bits"
                                        + " per byte = nats / ln 2).%n%n",
                                c.lmSteps,
                                c.lmBatch,
                                c.lmContext,
                                c.seed,
                                c.lmWindows,
                                bin));
        md.append("| positions |");
        for (LongContextCommand.PositionRun r : position) {
            md.append(' ').append(r.name()).append(" |");
        }
        md.append("\n|---|").append("---:|".repeat(position.size())).append('\n');
        double[] xs = new double[c.lmBins];
        double[][] ys = new double[position.size()][c.lmBins];
        for (int b = 0; b < c.lmBins; b++) {
            xs[b] = (b + 1) * bin;
            md.append(String.format(Locale.ROOT, "| %d–%d |", b * bin, (b + 1) * bin - 1));
            for (int r = 0; r < position.size(); r++) {
                double[] loss = position.get(r).loss();
                double sum = 0;
                for (int t = b * bin; t < (b + 1) * bin; t++) {
                    sum += loss[t];
                }
                ys[r][b] = sum / bin / Math.log(2);
                md.append(String.format(Locale.ROOT, " %.3f |", ys[r][b]));
            }
            md.append('\n');
        }
        md.append("| training s |");
        for (LongContextCommand.PositionRun r : position) {
            md.append(String.format(Locale.ROOT, " %.0f |", r.seconds()));
        }
        md.append("\n| parameters |");
        for (LongContextCommand.PositionRun r : position) {
            md.append(String.format(Locale.ROOT, " %,d |", r.parameters()));
        }
        md.append("\n\n![loss by position](img/position-loss.png)\n");
        LineChart chart =
                new LineChart(
                                "Validation loss by position (" + c.lmContext + "-byte windows)",
                                "position (end of bin)",
                                "bits per byte",
                                false)
                        .fitY();
        for (int r = 0; r < position.size(); r++) {
            chart.add(position.get(r).name(), xs, ys[r]);
        }
        chart.write(images.resolve("position-loss.png"));
    }
}

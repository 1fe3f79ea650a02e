package ai.djl.ttt.examples;

import ai.djl.ttt.runtime.AtomicFiles;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * A small line chart written as PNG with {@code java.awt} (headless): a log₂ x axis, a linear or
 * log₁₀ y axis, one line per series, a legend. Enough for the benchmark page, no dependency.
 */
final class LineChart {

    private static final Color[] COLORS = {
        new Color(0x1f77b4),
        new Color(0xd62728),
        new Color(0x2ca02c),
        new Color(0x9467bd),
        new Color(0xff7f0e),
        new Color(0x8c564b),
        new Color(0x17becf),
        new Color(0x7f7f7f)
    };
    private static final int WIDTH = 720;
    private static final int HEIGHT = 440;
    private static final int LEFT = 80;
    private static final int RIGHT = 30;
    private static final int TOP = 40;
    private static final int BOTTOM = 60;

    private final String title;
    private final String xLabel;
    private final String yLabel;
    private final boolean logY;
    private final List<String> names = new ArrayList<>();
    private boolean yFromZero = true;
    private final List<double[][]> series = new ArrayList<>();

    LineChart(String title, String xLabel, String yLabel, boolean logY) {
        this.title = title;
        this.xLabel = xLabel;
        this.yLabel = yLabel;
        this.logY = logY;
    }

    /**
     * Lets a linear y axis start at the smallest value instead of 0 (to show small differences).
     */
    LineChart fitY() {
        yFromZero = false;
        return this;
    }

    /** Adds a series of points {@code (x, y)}, x > 0. */
    LineChart add(String name, double[] xs, double[] ys) {
        names.add(name);
        series.add(new double[][] {xs.clone(), ys.clone()});
        return this;
    }

    /** Writes the chart (to a temporary file first, then moved into place). */
    void write(Path file) throws IOException {
        System.setProperty("java.awt.headless", "true");
        BufferedImage image = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(
                RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, WIDTH, HEIGHT);

        double[] xRange = range(0, false);
        double[] yRange = range(1, logY);
        if (!logY && yFromZero) {
            yRange[0] = Math.min(0, yRange[0]);
        }
        drawAxes(g, xRange, yRange);
        int[] legend = legendCorner(xRange, yRange);
        for (int s = 0; s < series.size(); s++) {
            g.setColor(COLORS[s % COLORS.length]);
            g.setStroke(new BasicStroke(2.2f));
            double[][] points = series.get(s);
            int[] previous = null;
            for (int i = 0; i < points[0].length; i++) {
                if (!Double.isFinite(points[1][i])) {
                    previous = null;
                    continue;
                }
                int[] p = {px(points[0][i], xRange), py(points[1][i], yRange)};
                g.fillOval(p[0] - 4, p[1] - 4, 8, 8);
                if (previous != null) {
                    g.drawLine(previous[0], previous[1], p[0], p[1]);
                }
                previous = p;
            }
            g.fillRect(legend[0], legend[1] + 20 * s, 18, 4);
            g.setColor(Color.DARK_GRAY);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
            g.drawString(names.get(s), legend[0] + 24, legend[1] + 6 + 20 * s);
        }
        g.dispose();
        AtomicFiles.writeAtomically(
                file,
                tmp -> {
                    if (!ImageIO.write(image, "png", tmp.toFile())) {
                        throw new IOException("no PNG writer in this Java runtime");
                    }
                });
    }

    private static final int LEGEND_WIDTH = 230;

    /**
     * The top-left corner of the legend: of six places along the left and right edges (top, middle,
     * bottom), the first that covers the fewest points of the lines (sampled along each segment),
     * so that the legend hides as little data as possible.
     */
    private int[] legendCorner(double[] xRange, double[] yRange) {
        int height = 20 * series.size();
        int plotTop = TOP + 12;
        int plotBottom = HEIGHT - BOTTOM - 12 - height;
        int[][] candidates = {
            {LEFT + 16, plotTop},
            {WIDTH - RIGHT - LEGEND_WIDTH, plotTop},
            {LEFT + 16, (plotTop + plotBottom) / 2},
            {WIDTH - RIGHT - LEGEND_WIDTH, (plotTop + plotBottom) / 2},
            {LEFT + 16, plotBottom},
            {WIDTH - RIGHT - LEGEND_WIDTH, plotBottom}
        };
        int[] best = candidates[0];
        int fewest = Integer.MAX_VALUE;
        for (int[] c : candidates) {
            int covered = 0;
            for (double[][] points : series) {
                for (int i = 1; i < points[0].length; i++) {
                    if (!Double.isFinite(points[1][i - 1]) || !Double.isFinite(points[1][i])) {
                        continue;
                    }
                    int x0 = px(points[0][i - 1], xRange);
                    int y0 = py(points[1][i - 1], yRange);
                    int x1 = px(points[0][i], xRange);
                    int y1 = py(points[1][i], yRange);
                    for (int k = 0; k <= 20; k++) {
                        int x = x0 + (x1 - x0) * k / 20;
                        int y = y0 + (y1 - y0) * k / 20;
                        if (x >= c[0] - 6
                                && x <= c[0] + LEGEND_WIDTH
                                && y >= c[1] - 10
                                && y <= c[1] + height) {
                            covered++;
                        }
                    }
                }
            }
            if (covered < fewest) {
                fewest = covered;
                best = c;
            }
        }
        return best;
    }

    private void drawAxes(Graphics2D g, double[] xRange, double[] yRange) {
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        g.drawString(title, LEFT, TOP - 15);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        g.drawLine(LEFT, HEIGHT - BOTTOM, WIDTH - RIGHT, HEIGHT - BOTTOM);
        g.drawLine(LEFT, TOP, LEFT, HEIGHT - BOTTOM);
        for (double x = xRange[0]; x <= xRange[1] * 1.0001; x *= 2) {
            int p = px(x, xRange);
            g.setColor(new Color(0xdddddd));
            g.drawLine(p, TOP, p, HEIGHT - BOTTOM);
            g.setColor(Color.BLACK);
            String label = x >= 1024 && x % 1024 == 0 ? (long) x / 1024 + "k" : tick(x);
            g.drawString(label, p - 10, HEIGHT - BOTTOM + 18);
        }
        for (double y : yTicks(yRange)) {
            int p = py(y, yRange);
            g.setColor(new Color(0xdddddd));
            g.drawLine(LEFT, p, WIDTH - RIGHT, p);
            g.setColor(Color.BLACK);
            String label = tick(y);
            g.drawString(label, LEFT - 8 - g.getFontMetrics().stringWidth(label), p + 4);
        }
        g.drawString(xLabel, (LEFT + WIDTH - RIGHT) / 2 - 40, HEIGHT - 18);
        Graphics2D rotated = (Graphics2D) g.create();
        rotated.rotate(-Math.PI / 2);
        rotated.drawString(yLabel, -(TOP + HEIGHT - BOTTOM) / 2 - 30, 16);
        rotated.dispose();
    }

    private List<Double> yTicks(double[] range) {
        List<Double> ticks = new ArrayList<>();
        if (logY) {
            for (double y = Math.pow(10, Math.floor(Math.log10(range[0])));
                    y <= range[1] * 1.0001;
                    y *= 10) {
                if (y >= range[0] * 0.9999) {
                    ticks.add(y);
                }
            }
            return ticks;
        }
        double step = Math.pow(10, Math.floor(Math.log10((range[1] - range[0]) / 2)));
        if ((range[1] - range[0]) / step > 8) {
            step *= 2;
        }
        for (double y = Math.ceil(range[0] / step) * step; y <= range[1]; y += step) {
            ticks.add(y);
        }
        return ticks;
    }

    private double[] range(int axis, boolean log) {
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        for (double[][] s : series) {
            for (double v : s[axis]) {
                if (Double.isFinite(v) && (!log || v > 0)) {
                    min = Math.min(min, v);
                    max = Math.max(max, v);
                }
            }
        }
        if (axis == 1 && log) {
            return new double[] {
                Math.pow(10, Math.floor(Math.log10(min))), Math.pow(10, Math.ceil(Math.log10(max)))
            };
        }
        return new double[] {min, axis == 1 ? max * 1.1 : max};
    }

    private static int px(double x, double[] range) {
        double span = Math.log(range[1] / range[0]);
        double at = span == 0 ? 0.5 : Math.log(x / range[0]) / span;
        return (int) Math.round(LEFT + 20 + at * (WIDTH - LEFT - RIGHT - 40));
    }

    private int py(double y, double[] range) {
        double at =
                logY
                        ? Math.log(y / range[0]) / Math.log(range[1] / range[0])
                        : (y - range[0]) / (range[1] - range[0]);
        return (int) Math.round(HEIGHT - BOTTOM - at * (HEIGHT - TOP - BOTTOM));
    }

    private static String tick(double v) {
        if (v >= 1000 && v % 1000 == 0) {
            return (long) (v / 1000) + "k";
        }
        return v == Math.rint(v) ? Long.toString((long) v) : String.format(Locale.ROOT, "%.2g", v);
    }
}

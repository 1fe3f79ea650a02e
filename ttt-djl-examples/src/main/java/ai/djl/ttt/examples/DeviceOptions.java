package ai.djl.ttt.examples;

import ai.djl.Device;
import ai.djl.engine.Engine;
import java.util.Locale;
import picocli.CommandLine.Option;

/**
 * {@code --device}: where the arrays of a command live ({@code cpu}, {@code gpu}, {@code gpu:N};
 * default: DJL's default device, the first GPU when libtorch sees one, else the CPU).
 */
final class DeviceOptions {

    @Option(
            names = "--device",
            paramLabel = "DEVICE",
            description =
                    "cpu, gpu or gpu:N (default: DJL's default device: the first GPU when the"
                            + " loaded libtorch sees one, else cpu)")
    String device;

    /**
     * Returns the device, checked against the engine (call after {@link EngineOptions#apply}: this
     * starts the engine).
     *
     * @return the device
     * @throws IllegalArgumentException if the name is not cpu, gpu or gpu:N, or the GPU is absent
     */
    Device get() {
        Engine engine = Engine.getEngine("PyTorch");
        if (device == null) {
            return engine.defaultDevice();
        }
        Device parsed = parse(device);
        if (parsed.isGpu() && parsed.getDeviceId() >= engine.getGpuCount()) {
            throw new IllegalArgumentException(
                    "--device "
                            + device
                            + ": DJL's PyTorch engine (libtorch "
                            + engine.getVersion()
                            + ") sees "
                            + engine.getGpuCount()
                            + " GPU(s); see docs/gpu.md for a CUDA build of libtorch");
        }
        return parsed;
    }

    /**
     * Parses {@code cpu}, {@code gpu} or {@code gpu:N}.
     *
     * @param name the option's value
     * @return the device
     * @throws IllegalArgumentException for any other value
     */
    static Device parse(String name) {
        String s = name.trim().toLowerCase(Locale.ROOT);
        if ("cpu".equals(s)) {
            return Device.cpu();
        }
        if ("gpu".equals(s)) {
            return Device.gpu();
        }
        if (s.startsWith("gpu:")) {
            try {
                int id = Integer.parseInt(s.substring(4));
                if (id >= 0) {
                    return Device.gpu(id);
                }
            } catch (NumberFormatException e) {
                // falls through to the error below
            }
        }
        throw new IllegalArgumentException(
                "--device: expected cpu, gpu or gpu:N (N >= 0), got '" + name + "'");
    }
}

package ai.djl.ttt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * No class of the library or the command line picks a device of its own: arrays go where the input
 * (or the user's {@code --device}, or DJL's {@code Criteria}) puts them, so a GPU user's run stays
 * on the GPU. Only the allow-list below may name a device.
 */
class NoFixedDeviceTest {

    /** Naming a fixed device, or the default one instead of the input's. */
    static final Pattern FIXED_DEVICE =
            Pattern.compile(
                    "Device\\.(cpu|gpu|of|fromName)\\s*\\("
                            + "|new\\s+Device\\s*\\("
                            + "|newBaseManager\\s*\\(\\s*\\)"
                            + "|Model\\.newInstance\\s*\\([^,()]*\\)"
                            + "|defaultDevice\\s*\\(");

    /** File (relative to the repository root) and why it may name a device. */
    private static final Map<String, String> ALLOWED =
            Map.of(
                    "ttt-djl-examples/src/main/java/ai/djl/ttt/examples/DeviceOptions.java",
                    "turns --device into a Device, DJL's default when absent",
                    "ttt-djl-examples/src/main/java/ai/djl/ttt/examples/quickstart/OwnProject.java",
                    "the user's program: it chooses the device",
                    "ttt-djl-blocks/src/main/java/ai/djl/ttt/zoo/TttModelLoader.java",
                    "Criteria without optDevice: DJL's default device, as DJL's own loaders",
                    "ttt-djl-examples/src/main/java/ai/djl/ttt/examples/GpuCheck.java",
                    "compares the chosen device with the CPU on purpose");

    private static final Path ROOT = Path.of("..");

    @Test
    void onlyTheAllowListNamesADevice() throws IOException {
        List<String> found = new ArrayList<>();
        Set<String> used = new java.util.HashSet<>();
        for (String module : new String[] {"ttt-djl-blocks", "ttt-djl-examples"}) {
            Path sources = ROOT.resolve(module).resolve("src/main/java");
            List<Path> files;
            try (Stream<Path> walk = Files.walk(sources)) {
                files = walk.filter(p -> p.toString().endsWith(".java")).sorted().toList();
            }
            assertTrue(files.size() > 10, "no sources under " + sources.toAbsolutePath());
            for (Path file : files) {
                String name = ROOT.relativize(file).toString().replace('\\', '/');
                List<String> lines = Files.readAllLines(file);
                for (int i = 0; i < lines.size(); i++) {
                    String code = withoutComment(lines.get(i));
                    Matcher m = FIXED_DEVICE.matcher(code);
                    if (m.find()) {
                        if (ALLOWED.containsKey(name)) {
                            used.add(name);
                        } else {
                            found.add(name + ":" + (i + 1) + ": " + lines.get(i).trim());
                        }
                    }
                }
            }
        }
        assertEquals(List.of(), found, "a fixed device outside the allow-list");
        // an entry nobody needs any more is removed, so the list stays small
        assertEquals(ALLOWED.keySet(), used, "allow-list entries without a match");
    }

    @Test
    void thePatternCatchesFixedDevices() {
        for (String bad :
                new String[] {
                    "NDManager m = NDManager.newBaseManager();",
                    "Model.newInstance(\"lm\", Device.cpu());",
                    "x.toDevice(Device.gpu(1), false)",
                    "Model.newInstance(name)",
                    "Device d = Device.of(\"gpu\", 0);",
                    "Engine.getInstance().defaultDevice()"
                }) {
            assertTrue(FIXED_DEVICE.matcher(bad).find(), bad);
        }
        for (String fine :
                new String[] {
                    "NDManager.newBaseManager(device)",
                    "Model.newInstance(MODEL_NAME, device)",
                    "x.toDevice(y.getDevice(), false)",
                    "Device.Type.CPU.equals(like.getDevice().getDeviceType())"
                }) {
            assertTrue(!FIXED_DEVICE.matcher(fine).find(), fine);
        }
    }

    /** The code of a line: javadoc and line comments may mention devices. */
    private static String withoutComment(String line) {
        String t = line.trim();
        if (t.startsWith("*") || t.startsWith("/*") || t.startsWith("//")) {
            return "";
        }
        int comment = line.indexOf("//");
        return comment >= 0 ? line.substring(0, comment) : line;
    }
}

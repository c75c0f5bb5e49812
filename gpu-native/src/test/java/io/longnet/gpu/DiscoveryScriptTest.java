package io.longnet.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** bin/discover-gpus.sh prints what Spark's resource discovery expects, from nvidia-smi or without it. */
class DiscoveryScriptTest {

    @TempDir
    Path dir;

    private static Path script() {
        Path fromModule = Path.of("../bin/discover-gpus.sh");
        return Files.exists(fromModule) ? fromModule : Path.of("bin/discover-gpus.sh");
    }

    private String run(String path) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder("/bin/bash", script().toString());
        pb.environment().put("PATH", path);
        pb.redirectErrorStream(true);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        return out.trim();
    }

    @Test
    void listsTheDevicesNvidiaSmiReports() throws Exception {
        Path fake = dir.resolve("nvidia-smi");
        Files.writeString(fake, "#!/bin/bash\nprintf '0\\n 1\\n3\\n'\n");
        Files.setPosixFilePermissions(fake, PosixFilePermissions.fromString("rwxr-xr-x"));
        assertEquals("{\"name\": \"gpu\", \"addresses\": [\"0\",\"1\",\"3\"]}", run(dir + ":/usr/bin:/bin"));
    }

    @Test
    void anEmptyListWithoutNvidiaSmi() throws Exception {
        // A PATH of one empty folder: no nvidia-smi even on a GPU machine (the script needs no other tool then).
        assertEquals("{\"name\": \"gpu\", \"addresses\": []}", run(dir.toString()));
    }
}

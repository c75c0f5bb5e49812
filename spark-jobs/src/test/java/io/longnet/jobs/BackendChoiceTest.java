package io.longnet.jobs;

import io.longnet.tensors.DType;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.attention.Backend;
import io.longnet.attention.Branch;
import io.longnet.attention.CpuAttentionKernel;
import io.longnet.datasets.SyntheticQkv;
import io.longnet.gpu.CudaDevices;
import io.longnet.spark.SparkSessionExtension;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * --backend on a machine without a usable GPU (as CI): auto runs the CPU and says so; gpu fails with one
 * clear line and leaves nothing. (On a GPU machine, device-spark-run.sh checks the other side.)
 */
@EnabledIf(value = "noGpu", disabledReason = "this machine has a usable GPU")
class BackendChoiceTest {

    @RegisterExtension
    static final SparkSessionExtension SPARK = new SparkSessionExtension();

    @TempDir
    Path dir;

    static boolean noGpu() {
        return CudaDevices.pool().unavailableReason() != null;
    }

    private AttendJob.Summary attend(Backend backend, String out) throws Exception {
        String in = dir.resolve("qkv.safetensors").toUri().toString();
        SyntheticQkv.write(in, new Configuration(), 200, 2, 32, DType.F32, 3);
        return AttendJob.run(SPARK.session(), new AttendJob.Request(in, out, Branch.parseList("64:1,128:2"), null,
                true, 64, backend, false), new PrintStream(new ByteArrayOutputStream()));
    }

    @Test
    void autoFallsBackToTheCpuAndReportsIt() throws Exception {
        String ran = attend(Backend.AUTO, dir.resolve("o.safetensors").toUri().toString()).backends();
        assertEquals("cpu (tiles: " + CpuAttentionKernel.tiles() + ")", ran);
    }

    @Test
    void gpuWithoutADeviceFailsClearlyAndLeavesNothing() throws Exception {
        Path outDir = dir.resolve("out");
        Exception e = assertThrows(Exception.class, () -> attend(Backend.GPU, outDir.resolve("o.safetensors").toUri().toString()));
        Throwable user = Main.userError(e);
        assertTrue(user != null && user.getMessage().startsWith("backend gpu: "), String.valueOf(user));
        assertTrue(user.getMessage().contains(CudaDevices.pool().unavailableReason()), user.getMessage());
        if (outDir.toFile().exists()) {
            assertEquals(List.of(), AttendJobTest.listing(outDir), "no output and no temporaries");
        }
    }
}

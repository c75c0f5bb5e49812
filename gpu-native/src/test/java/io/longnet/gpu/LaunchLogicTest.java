package io.longnet.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.longnet.attention.Branch;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/** Launch geometry and params packing: the CPU side of the kernel family. */
class LaunchLogicTest {

    @Test
    void geometryCoversEverySegmentHeadAndQueryBlock() {
        // Paper branch 16384:6 at N = 1M: 64 segments; 2731 rows per segment at offset 0 -> 11 blocks of 256
        // with the shape sm_90a's d = 64 kernel reports (four consumer warpgroups and a producer warpgroup).
        KernelShape warpSpecialised = new KernelShape(640, 256, 98_304);
        assertEquals(new LaunchGeometry(64, 12, 11, 640, 98_304),
                LaunchGeometry.local(new Branch(16384, 6), 1 << 20, 12, warpSpecialised));
        // A ragged sequence: 1000 positions of 256:1 -> 4 segments, the last short; fp32 blocks of 32 rows.
        KernelShape fp32 = new KernelShape(128, 32, 0);
        assertEquals(new LaunchGeometry(4, 4, 8, 128, 0), LaunchGeometry.local(new Branch(256, 1), 1000, 4, fp32));
        // w > N: one segment of N rows.
        assertEquals(new LaunchGeometry(1, 2, 1, 288, 57_600),
                LaunchGeometry.local(new Branch(4096, 1), 100, 2, new KernelShape(288, 128, 57_600)));
        assertEquals("dilated_fwd_bf16_d64", Precision.BF16.kernelName(64));
        assertEquals("dilated_fwd_f32_d128", Precision.FP32.kernelName(128));
        assertEquals("dilated_fwd_bf16_d64_shape", KernelShape.symbol(Precision.BF16.kernelName(64)));
    }

    @Test
    void aShapeNoKernelCouldHaveIsRejected() {
        assertEquals("kernel module reports an invalid launch shape: 100 threads, 32 rows, 0 bytes of shared memory",
                assertThrows(IllegalStateException.class, () -> new KernelShape(100, 32, 0)).getMessage());
        assertThrows(IllegalStateException.class, () -> new KernelShape(128, 0, 0));
        assertThrows(IllegalStateException.class, () -> new KernelShape(128, 32, -1));
    }

    @Test
    void headWidthsWithoutAKernelAreRejected() {
        assertEquals("head width d = 48 has no GPU kernel (have [32, 64, 128]); use --backend cpu",
                assertThrows(IllegalArgumentException.class, () -> LaunchGeometry.requireHeadWidth(48)).getMessage());
    }

    @Test
    void paramsFollowTheStructLayout() {
        byte[] b = new LaunchParams().pointers(1, 2, 3, 4, 5, 6).shape(1000, 12, 2048, 6, 1, true)
                .gathered(true, 512, 777).first(true).headDim(64).toBytes();
        ByteBuffer p = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(LaunchParams.SIZE, b.length);
        for (int i = 0; i < 6; i++) {
            assertEquals(i + 1, p.getLong(8 * i), "pointer " + i);
        }
        int[] ints = {1000, 12, 2048, 6, 1, 1, 1, 512, 777, 1};
        for (int i = 0; i < ints.length; i++) {
            assertEquals(ints[i], p.getInt(48 + 4 * i), "int field " + i);
        }
        assertEquals(1.4426950408889634 / 8, p.getFloat(88), 1e-7);
    }
}

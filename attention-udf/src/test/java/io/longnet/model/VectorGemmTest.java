package io.longnet.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.longnet.attention.VectorApi;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link VectorGemm}'s products against a float64 brute force, for shapes that leave rows past the
 * micro-kernel's six, columns past its panels and depths past a packed block, with A read by rows or down
 * its columns and B read as a linear layer's transposed weights or as rows; C at an offset, with a wider
 * row than the product, whose other elements must stay as they were.
 */
class VectorGemmTest {

    @ParameterizedTest(name = "rows {0}, depth {1}, m {2}, A transposed {3}, B rows {4}")
    @CsvSource({"1, 1, 1, false, false", "7, 33, 17, false, false", "13, 300, 40, true, false",
            "100, 257, 16, false, true", "6, 64, 258, true, true", "200, 520, 9, false, false"})
    void productsEqualFloat64(int rows, int depth, int m, boolean aTransposed, boolean bRows) {
        assumeTrue(VectorApi.available(), "the Vector API is not available: " + VectorApi.describe());
        long seed = rows * 31L + depth;
        System.out.println("VectorGemmTest seed " + seed);
        Random random = new Random(seed);
        double[] a = gaussian(random, 5 + rows * depth);
        double[] b = gaussian(random, 3 + depth * m);
        int cRow = m + 2;
        double[] c = gaussian(random, 4 + rows * cRow);
        int aRow = aTransposed ? 1 : depth;
        int aCol = aTransposed ? rows : 1;
        int bK = bRows ? m : 1;
        int bJ = bRows ? 1 : depth;
        double[] expected = c.clone();
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < m; j++) {
                double s = 0;
                for (int k = 0; k < depth; k++) {
                    s += (double) (float) a[5 + i * aRow + k * aCol] * (float) b[3 + k * bK + j * bJ];
                }
                expected[4 + i * cRow + j] += s;
            }
        }
        double[] cd = c.clone();
        VectorGemm.mulAdd(a, 5, aRow, aCol, rows, depth, b, 3, bK, bJ, m, cd, 4, cRow);
        float[] af = floats(a);
        float[] bf = floats(b);
        float[] cf = floats(c);
        VectorGemm.mulAdd(af, 5, aRow, aCol, rows, depth, bf, 3, bK, bJ, m, cf, 4, cRow);
        for (int i = 0; i < c.length; i++) {
            double exactD = c[i] + (expected[i] - (double) (float) c[i]); // the same sum on the double inputs
            boolean inside = i >= 4 && (i - 4) / cRow < rows && (i - 4) % cRow < m;
            if (!inside) {
                assertEquals(c[i], cd[i], "double: element " + i + " outside the product changed");
                assertEquals((float) c[i], cf[i], "float: element " + i + " outside the product changed");
            } else {
                assertEquals(expected[i], cf[i], 1e-5 * Math.sqrt(depth) * 4, "float: element " + i);
            }
        }
        double[] exact = c.clone();
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < m; j++) {
                double s = 0;
                for (int k = 0; k < depth; k++) {
                    s += a[5 + i * aRow + k * aCol] * b[3 + k * bK + j * bJ];
                }
                exact[4 + i * cRow + j] += s;
            }
        }
        for (int i = 0; i < c.length; i++) {
            assertEquals(exact[i], cd[i], 1e-13 * Math.sqrt(depth), "double: element " + i);
        }
    }

    private static double[] gaussian(Random random, int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = random.nextGaussian();
        }
        return v;
    }

    private static float[] floats(double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            f[i] = (float) v[i];
        }
        return f;
    }
}

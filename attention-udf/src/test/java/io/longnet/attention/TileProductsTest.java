package io.longnet.attention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The tile GEMM of the float64 attention against plain triple loops, with and without its bounds; the path
 * this JVM takes (the Vector API code where it runs) against the scalar twin, bit for bit.
 */
class TileProductsTest {

    private static double[][] random(SplittableRandom r, int rows, int cols) {
        double[][] a = new double[rows][cols];
        for (double[] row : a) {
            for (int j = 0; j < cols; j++) {
                row[j] = r.nextDouble(-1, 1);
            }
        }
        return a;
    }

    @Test
    void mulAddMatchesPlainLoopsOnTheRowsItPromises() {
        long seed = 81;
        System.out.println("TileProducts, seed " + seed);
        SplittableRandom r = new SplittableRandom(seed);
        int[][] shapes = {{1, 1, 1}, {4, 4, 4}, {4, 5, 8}, {5, 7, 9}, {8, 9, 13}, {64, 32, 64}, {13, 64, 32}, {7, 3, 66}};
        for (int[] shape : shapes) {
            int rows = shape[0];
            int depth = shape[1];
            int m = shape[2];
            for (boolean transposed : new boolean[] {false, true}) {
                for (int bounds = 0; bounds < 3; bounds++) {
                    double[][] a = transposed ? random(r, depth, rows) : random(r, rows, depth);
                    double[][] b = random(r, depth, m);
                    double[][] c = random(r, rows, m);
                    // Nondecreasing bounds, as a causal tile's first visible query per key.
                    int[] from = new int[rows];
                    for (int i = 0; i < rows; i++) {
                        from[i] = Math.min(bounds == 1 ? m : depth, i * 2 / 3);
                    }
                    int[] colFrom = bounds == 1 ? from : null;
                    int[] depthFrom = bounds == 2 ? from : null;
                    if (depthFrom != null) {
                        // The promise: A is zero below each row's depth bound.
                        for (int i = 0; i < rows; i++) {
                            for (int k = 0; k < depthFrom[i]; k++) {
                                if (transposed) {
                                    a[k][i] = 0;
                                } else {
                                    a[i][k] = 0;
                                }
                            }
                        }
                    }
                    double[][] expected = new double[rows][];
                    for (int i = 0; i < rows; i++) {
                        expected[i] = c[i].clone();
                        for (int j = colFrom == null ? 0 : colFrom[i]; j < m; j++) {
                            for (int k = 0; k < depth; k++) {
                                expected[i][j] += (transposed ? a[k][i] : a[i][k]) * b[k][j];
                            }
                        }
                    }
                    double[][] loops = new double[rows][];
                    for (int i = 0; i < rows; i++) {
                        loops[i] = c[i].clone();
                    }
                    TileProducts.mulAddLoops(a, transposed, b, loops, rows, depth, m, colFrom, depthFrom);
                    TileProducts.mulAdd(a, transposed, b, c, rows, depth, m, colFrom, depthFrom);
                    String what = rows + "x" + depth + "x" + m + (transposed ? " transposed" : "") + " bounds " + bounds;
                    for (int i = 0; i < rows; i++) {
                        // The Vector API code (where it runs) computes the scalar twin's bits.
                        assertArrayEquals(loops[i], c[i], what + ", " + VectorApi.describe() + ", row " + i);
                    }
                    for (int i = 0; i < rows; i++) {
                        for (int j = colFrom == null ? 0 : colFrom[i]; j < m; j++) {
                            assertEquals(expected[i][j], c[i][j], 1e-13 * Math.max(1, Math.abs(expected[i][j])),
                                    what + " at " + i + "," + j);
                        }
                    }
                }
            }
        }
    }
}

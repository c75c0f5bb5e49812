package io.longnet.attention;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link TileProducts#mulAdd} written with the JDK's Vector API: same arguments, same bounds rule, and the
 * same results bit for bit (each {@code C[r][j]} starts from its old value and takes one fused multiply-add
 * per {@code k} in increasing order, as the scalar twin does). Load only after {@link VectorApi#available()}
 * said yes.
 *
 * <p>Why it is shaped this way: a block of four rows by two vectors of C (eight doubles per row) stays in
 * eight registers through the whole depth; per step two loads of B and four broadcasts of A feed eight
 * multiply-adds, and C is loaded and stored once per block instead of once per step.
 */
final class VectorTileProducts {

    private static final VectorSpecies<Double> DOUBLES = DoubleVector.SPECIES_256;
    private static final int L = DOUBLES.length();

    private VectorTileProducts() {
    }

    /** As {@link TileProducts#mulAdd}. */
    static void mulAdd(double[][] a, boolean transposed, double[][] b, double[][] c, int rows, int depth, int m,
                       int[] colFrom, int[] depthFrom) {
        int r = 0;
        for (; r + 4 <= rows; r += 4) {
            int j = colFrom == null ? 0 : colFrom[r];
            int k0 = depthFrom == null ? 0 : depthFrom[r];
            for (; j + 2 * L <= m; j += 2 * L) {
                fourRows(a, transposed, b, c, r, k0, depth, j);
            }
            if (j < m) {
                fourRowsTail(a, transposed, b, c, r, k0, depth, j, m);
            }
        }
        for (; r < rows; r++) {
            int j0 = colFrom == null ? 0 : colFrom[r];
            int k0 = depthFrom == null ? 0 : depthFrom[r];
            double[] c0 = c[r];
            int j = j0;
            for (; j + L <= m; j += L) {
                DoubleVector s = DoubleVector.fromArray(DOUBLES, c0, j);
                for (int k = k0; k < depth; k++) {
                    s = DoubleVector.fromArray(DOUBLES, b[k], j).fma(DoubleVector.broadcast(DOUBLES, at(a, transposed, r, k)), s);
                }
                s.intoArray(c0, j);
            }
            for (; j < m; j++) {
                double s = c0[j];
                for (int k = k0; k < depth; k++) {
                    s = Math.fma(at(a, transposed, r, k), b[k][j], s);
                }
                c0[j] = s;
            }
        }
    }

    /** Rows {@code r..r+3}, columns {@code [j, j + 2L)}: the register block described on the class. */
    private static void fourRows(double[][] a, boolean transposed, double[][] b, double[][] c, int r, int k0,
                                 int depth, int j) {
        double[] c0 = c[r];
        double[] c1 = c[r + 1];
        double[] c2 = c[r + 2];
        double[] c3 = c[r + 3];
        DoubleVector s00 = DoubleVector.fromArray(DOUBLES, c0, j);
        DoubleVector s01 = DoubleVector.fromArray(DOUBLES, c0, j + L);
        DoubleVector s10 = DoubleVector.fromArray(DOUBLES, c1, j);
        DoubleVector s11 = DoubleVector.fromArray(DOUBLES, c1, j + L);
        DoubleVector s20 = DoubleVector.fromArray(DOUBLES, c2, j);
        DoubleVector s21 = DoubleVector.fromArray(DOUBLES, c2, j + L);
        DoubleVector s30 = DoubleVector.fromArray(DOUBLES, c3, j);
        DoubleVector s31 = DoubleVector.fromArray(DOUBLES, c3, j + L);
        if (transposed) {
            for (int k = k0; k < depth; k++) {
                double[] bk = b[k];
                double[] ak = a[k];
                DoubleVector b0 = DoubleVector.fromArray(DOUBLES, bk, j);
                DoubleVector b1 = DoubleVector.fromArray(DOUBLES, bk, j + L);
                DoubleVector x = DoubleVector.broadcast(DOUBLES, ak[r]);
                s00 = b0.fma(x, s00);
                s01 = b1.fma(x, s01);
                x = DoubleVector.broadcast(DOUBLES, ak[r + 1]);
                s10 = b0.fma(x, s10);
                s11 = b1.fma(x, s11);
                x = DoubleVector.broadcast(DOUBLES, ak[r + 2]);
                s20 = b0.fma(x, s20);
                s21 = b1.fma(x, s21);
                x = DoubleVector.broadcast(DOUBLES, ak[r + 3]);
                s30 = b0.fma(x, s30);
                s31 = b1.fma(x, s31);
            }
        } else {
            double[] a0 = a[r];
            double[] a1 = a[r + 1];
            double[] a2 = a[r + 2];
            double[] a3 = a[r + 3];
            for (int k = k0; k < depth; k++) {
                double[] bk = b[k];
                DoubleVector b0 = DoubleVector.fromArray(DOUBLES, bk, j);
                DoubleVector b1 = DoubleVector.fromArray(DOUBLES, bk, j + L);
                DoubleVector x = DoubleVector.broadcast(DOUBLES, a0[k]);
                s00 = b0.fma(x, s00);
                s01 = b1.fma(x, s01);
                x = DoubleVector.broadcast(DOUBLES, a1[k]);
                s10 = b0.fma(x, s10);
                s11 = b1.fma(x, s11);
                x = DoubleVector.broadcast(DOUBLES, a2[k]);
                s20 = b0.fma(x, s20);
                s21 = b1.fma(x, s21);
                x = DoubleVector.broadcast(DOUBLES, a3[k]);
                s30 = b0.fma(x, s30);
                s31 = b1.fma(x, s31);
            }
        }
        s00.intoArray(c0, j);
        s01.intoArray(c0, j + L);
        s10.intoArray(c1, j);
        s11.intoArray(c1, j + L);
        s20.intoArray(c2, j);
        s21.intoArray(c2, j + L);
        s30.intoArray(c3, j);
        s31.intoArray(c3, j + L);
    }

    /** Rows {@code r..r+3}, columns {@code [j, m)} with {@code m - j < 2L}: one vector, then scalars. */
    private static void fourRowsTail(double[][] a, boolean transposed, double[][] b, double[][] c, int r, int k0,
                                     int depth, int j, int m) {
        for (int i = r; i < r + 4; i++) {
            double[] ci = c[i];
            int jj = j;
            if (jj + L <= m) {
                DoubleVector s = DoubleVector.fromArray(DOUBLES, ci, jj);
                for (int k = k0; k < depth; k++) {
                    s = DoubleVector.fromArray(DOUBLES, b[k], jj).fma(DoubleVector.broadcast(DOUBLES, at(a, transposed, i, k)), s);
                }
                s.intoArray(ci, jj);
                jj += L;
            }
            for (; jj < m; jj++) {
                double s = ci[jj];
                for (int k = k0; k < depth; k++) {
                    s = Math.fma(at(a, transposed, i, k), b[k][jj], s);
                }
                ci[jj] = s;
            }
        }
    }

    private static double at(double[][] a, boolean transposed, int r, int k) {
        return transposed ? a[k][r] : a[r][k];
    }
}

package io.longnet.model;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Matrix products {@code C += A B} written with the JDK's Vector API: the model's float32 products when no
 * native BLAS is installed, and the trainer's float64 ones (docs/ARCHITECTURE.md §6). Load only after
 * {@link io.longnet.attention.VectorApi#available()} said yes.
 *
 * <p>{@code C[i][j] += sum_k A(i, k) B(k, j)} for {@code i < rows}, {@code j < m}, {@code k < depth}, with
 * any strides for A and B ({@code A(i, k) = a[aOff + i aRow + k aCol]}, {@code B(k, j) = b[bOff + k bK + j bJ]}),
 * so that transposed operands (a linear layer's {@code [out][in]} weights) need no copy of their own; C is
 * row-major ({@code c[cOff + i cRow + j]}).
 *
 * <p>Why it is shaped this way (the layout of a BLAS, Goto's): B is packed, {@link #DEPTH_BLOCK} steps of
 * {@code k} at a time, into panels of two vectors' width, each {@code k} step's two vectors contiguous, so
 * that a panel streams from L1 while a block of rows of A, copied row by row into a contiguous block, stays
 * in L2. The micro-kernel keeps a block of six rows by two vectors of C in twelve registers (of AVX2's
 * sixteen) through a whole depth block: per step two loads of B and six broadcasts of A (one from each
 * row) feed twelve multiply-adds. C2 keeps these locals in registers (an unrolled step or indices written
 * as functions of {@code k} made it spill accumulators, measured). Every {@code C[i][j]} sums over {@code k} in increasing order, depth block by depth block, so
 * a result does not depend on the row block or thread that computed it.
 */
public final class VectorGemm {

    private static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_256;
    private static final VectorSpecies<Double> DOUBLES = DoubleVector.SPECIES_256;
    private static final int FL = FLOATS.length();
    private static final int DL = DOUBLES.length();
    /** Rows of the micro-kernel's block of C. */
    private static final int MR = 6;
    /** Steps of {@code k} packed at a time: a panel (256 x 16 floats or 256 x 8 doubles, 16 KiB) fits L1. */
    private static final int DEPTH_BLOCK = 256;
    /** Rows of A that pass over one packed panel before the next panel: a multiple of {@link #MR}. */
    private static final int ROW_BLOCK = 96;

    private VectorGemm() {
    }

    /** The float32 product described on the class. */
    public static void mulAdd(float[] a, int aOff, int aRow, int aCol, int rows, int depth, float[] b, int bOff,
                              int bK, int bJ, int m, float[] c, int cOff, int cRow) {
        if (rows <= 0 || depth <= 0 || m <= 0) {
            return;
        }
        int nr = 2 * FL;
        int kc = Math.min(DEPTH_BLOCK, depth);
        int panels = (m + nr - 1) / nr;
        float[] packed = new float[panels * kc * nr];
        float[] packedA = new float[ROW_BLOCK * kc];
        float[] edge = new float[MR * nr];
        new Blocking(rows, depth, m, nr, cOff, cRow) {
            @Override
            void packB(int k0, int kb) {
                packFloats(b, bOff + k0 * bK, bK, bJ, kb, m, nr, panels, packed);
            }

            @Override
            void packA(int i0, int count, int k0, int kb) {
                packRows(a, aOff + i0 * aRow + k0 * aCol, aRow, aCol, count, kb, packedA);
            }

            @Override
            void kernel(int pa, int panel, int kb, int cAt) {
                floatKernel(packedA, pa, packed, panel, kb, c, cAt, cRow);
            }

            @Override
            void edgeKernel(int pa, int panel, int kb, int cAt, int count, int width) {
                java.util.Arrays.fill(edge, 0f);
                copyFloats(c, cAt, cRow, edge, count, width, nr, true);
                floatKernel(packedA, pa, packed, panel, kb, edge, 0, nr);
                copyFloats(c, cAt, cRow, edge, count, width, nr, false);
            }
        }.run();
    }

    /**
     * The loops over depth blocks, row blocks, panels and blocks of six rows that both precisions share; the
     * subclass packs and multiplies in its own element type. One object per product.
     */
    private abstract static class Blocking {
        private final int rows;
        private final int depth;
        private final int m;
        private final int nr;
        private final int cOff;
        private final int cRow;

        Blocking(int rows, int depth, int m, int nr, int cOff, int cRow) {
            this.rows = rows;
            this.depth = depth;
            this.m = m;
            this.nr = nr;
            this.cOff = cOff;
            this.cRow = cRow;
        }

        /** Packs B's depth rows {@code [k0, k0 + kb)} into the panels. */
        abstract void packB(int k0, int kb);

        /** Packs A's rows {@code [i0, i0 + count)}, depth {@code [k0, k0 + kb)}. */
        abstract void packA(int i0, int count, int k0, int kb);

        /** Six whole rows by one whole panel into C at {@code cAt}. */
        abstract void kernel(int pa, int panel, int kb, int cAt);

        /** {@code count <= 6} rows by {@code width} columns of a panel, through the edge scratch. */
        abstract void edgeKernel(int pa, int panel, int kb, int cAt, int count, int width);

        final void run() {
            int panels = (m + nr - 1) / nr;
            int kc = Math.min(DEPTH_BLOCK, depth);
            for (int k0 = 0; k0 < depth; k0 += kc) {
                int kb = Math.min(kc, depth - k0);
                packB(k0, kb);
                for (int i0 = 0; i0 < rows; i0 += ROW_BLOCK) {
                    int i1 = Math.min(rows, i0 + ROW_BLOCK);
                    packA(i0, i1 - i0, k0, kb);
                    for (int p = 0; p < panels; p++) {
                        int j = p * nr;
                        int width = Math.min(nr, m - j);
                        int panel = p * kb * nr;
                        for (int i = i0; i < i1; i += MR) {
                            int pa = (i - i0) * kb;
                            int count = Math.min(MR, i1 - i);
                            int cAt = cOff + i * cRow + j;
                            if (width == nr && count == MR) {
                                kernel(pa, panel, kb, cAt);
                            } else {
                                edgeKernel(pa, panel, kb, cAt, count, width);
                            }
                        }
                    }
                }
            }
        }
    }

    /**
     * {@code packedA[i][k] = A(i, k)} for the {@code count} rows of a block (from {@code at}), each row's
     * {@code kb} values contiguous, and zeros for the rows that fill its last group of six. Row-major rather than
     * interleaved by six: where A's rows are contiguous (a linear layer's activations) each row is one
     * {@link System#arraycopy}, several times cheaper than a transposing loop, which mattered for products of
     * large depth and small width; and the six rows the micro-kernel reads, {@code kb} floats apart, fall in
     * different L1 sets, where A's own rows, a power of two apart, would not.
     */
    private static void packRows(float[] a, int at, int aRow, int aCol, int count, int kb, float[] packedA) {
        for (int i = 0; i < count; i++) {
            int from = at + i * aRow;
            if (aCol == 1) {
                System.arraycopy(a, from, packedA, i * kb, kb);
            } else {
                for (int k = 0, t = i * kb; k < kb; k++) {
                    packedA[t + k] = a[from + k * aCol];
                }
            }
        }
        java.util.Arrays.fill(packedA, count * kb, (count + MR - 1) / MR * MR * kb, 0f);
    }

    /** {@code packed[p][k][jj] = B(k, p nr + jj)}, zero beyond column {@code m}. */
    private static void packFloats(float[] b, int bOff, int bK, int bJ, int kb, int m, int nr, int panels,
                                   float[] packed) {
        for (int p = 0; p < panels; p++) {
            int base = p * kb * nr;
            for (int jj = 0; jj < nr; jj++) {
                int j = p * nr + jj;
                if (j >= m) {
                    for (int k = 0; k < kb; k++) {
                        packed[base + k * nr + jj] = 0f;
                    }
                    continue;
                }
                int from = bOff + j * bJ;
                for (int k = 0; k < kb; k++) {
                    packed[base + k * nr + jj] = b[from + k * bK];
                }
            }
        }
    }

    /** Copies {@code rows x width} of C into the edge scratch ({@code in}) or back. */
    private static void copyFloats(float[] c, int at, int cRow, float[] edge, int rows, int width, int nr, boolean in) {
        for (int r = 0; r < rows; r++) {
            if (in) {
                System.arraycopy(c, at + r * cRow, edge, r * nr, width);
            } else {
                System.arraycopy(edge, r * nr, c, at + r * cRow, width);
            }
        }
    }

    /** Six rows of C (from {@code cAt}) by one panel: the micro-kernel described on the class. */
    private static void floatKernel(float[] a, int aAt, float[] packed, int panel, int kb, float[] c, int cAt,
                                    int cRow) {
        int c1 = cAt + cRow;
        int c2 = c1 + cRow;
        int c3 = c2 + cRow;
        int c4 = c3 + cRow;
        int c5 = c4 + cRow;
        FloatVector s00 = FloatVector.fromArray(FLOATS, c, cAt);
        FloatVector s01 = FloatVector.fromArray(FLOATS, c, cAt + FL);
        FloatVector s10 = FloatVector.fromArray(FLOATS, c, c1);
        FloatVector s11 = FloatVector.fromArray(FLOATS, c, c1 + FL);
        FloatVector s20 = FloatVector.fromArray(FLOATS, c, c2);
        FloatVector s21 = FloatVector.fromArray(FLOATS, c, c2 + FL);
        FloatVector s30 = FloatVector.fromArray(FLOATS, c, c3);
        FloatVector s31 = FloatVector.fromArray(FLOATS, c, c3 + FL);
        FloatVector s40 = FloatVector.fromArray(FLOATS, c, c4);
        FloatVector s41 = FloatVector.fromArray(FLOATS, c, c4 + FL);
        FloatVector s50 = FloatVector.fromArray(FLOATS, c, c5);
        FloatVector s51 = FloatVector.fromArray(FLOATS, c, c5 + FL);
        int a0 = aAt;
        int pb = panel;
        for (int k = 0; k < kb; k++) {
            FloatVector b0 = FloatVector.fromArray(FLOATS, packed, pb);
            FloatVector b1 = FloatVector.fromArray(FLOATS, packed, pb + FL);
            pb += 2 * FL;
            FloatVector x = FloatVector.broadcast(FLOATS, a[a0]);
            s00 = b0.fma(x, s00);
            s01 = b1.fma(x, s01);
            x = FloatVector.broadcast(FLOATS, a[a0 + kb]);
            s10 = b0.fma(x, s10);
            s11 = b1.fma(x, s11);
            x = FloatVector.broadcast(FLOATS, a[a0 + 2 * kb]);
            s20 = b0.fma(x, s20);
            s21 = b1.fma(x, s21);
            x = FloatVector.broadcast(FLOATS, a[a0 + 3 * kb]);
            s30 = b0.fma(x, s30);
            s31 = b1.fma(x, s31);
            x = FloatVector.broadcast(FLOATS, a[a0 + 4 * kb]);
            s40 = b0.fma(x, s40);
            s41 = b1.fma(x, s41);
            x = FloatVector.broadcast(FLOATS, a[a0 + 5 * kb]);
            s50 = b0.fma(x, s50);
            s51 = b1.fma(x, s51);
            a0++;
        }
        s00.intoArray(c, cAt);
        s01.intoArray(c, cAt + FL);
        s10.intoArray(c, c1);
        s11.intoArray(c, c1 + FL);
        s20.intoArray(c, c2);
        s21.intoArray(c, c2 + FL);
        s30.intoArray(c, c3);
        s31.intoArray(c, c3 + FL);
        s40.intoArray(c, c4);
        s41.intoArray(c, c4 + FL);
        s50.intoArray(c, c5);
        s51.intoArray(c, c5 + FL);
    }

    /** The float64 product described on the class. */
    public static void mulAdd(double[] a, int aOff, int aRow, int aCol, int rows, int depth, double[] b, int bOff,
                              int bK, int bJ, int m, double[] c, int cOff, int cRow) {
        if (rows <= 0 || depth <= 0 || m <= 0) {
            return;
        }
        // Doubles are twice the size, and a panel half as wide: the same depth keeps it the same number of bytes.
        int nr = 2 * DL;
        int kc = Math.min(DEPTH_BLOCK, depth);
        int panels = (m + nr - 1) / nr;
        double[] packed = new double[panels * kc * nr];
        double[] packedA = new double[ROW_BLOCK * kc];
        double[] edge = new double[MR * nr];
        new Blocking(rows, depth, m, nr, cOff, cRow) {
            @Override
            void packB(int k0, int kb) {
                packDoubles(b, bOff + k0 * bK, bK, bJ, kb, m, nr, panels, packed);
            }

            @Override
            void packA(int i0, int count, int k0, int kb) {
                packRows(a, aOff + i0 * aRow + k0 * aCol, aRow, aCol, count, kb, packedA);
            }

            @Override
            void kernel(int pa, int panel, int kb, int cAt) {
                doubleKernel(packedA, pa, packed, panel, kb, c, cAt, cRow);
            }

            @Override
            void edgeKernel(int pa, int panel, int kb, int cAt, int count, int width) {
                java.util.Arrays.fill(edge, 0.0);
                copyDoubles(c, cAt, cRow, edge, count, width, nr, true);
                doubleKernel(packedA, pa, packed, panel, kb, edge, 0, nr);
                copyDoubles(c, cAt, cRow, edge, count, width, nr, false);
            }
        }.run();
    }

    /** The float64 {@link #packRows(float[], int, int, int, int, int, float[])}. */
    private static void packRows(double[] a, int at, int aRow, int aCol, int count, int kb, double[] packedA) {
        for (int i = 0; i < count; i++) {
            int from = at + i * aRow;
            if (aCol == 1) {
                System.arraycopy(a, from, packedA, i * kb, kb);
            } else {
                for (int k = 0, t = i * kb; k < kb; k++) {
                    packedA[t + k] = a[from + k * aCol];
                }
            }
        }
        java.util.Arrays.fill(packedA, count * kb, (count + MR - 1) / MR * MR * kb, 0.0);
    }

    private static void packDoubles(double[] b, int bOff, int bK, int bJ, int kb, int m, int nr, int panels,
                                    double[] packed) {
        for (int p = 0; p < panels; p++) {
            int base = p * kb * nr;
            for (int jj = 0; jj < nr; jj++) {
                int j = p * nr + jj;
                if (j >= m) {
                    for (int k = 0; k < kb; k++) {
                        packed[base + k * nr + jj] = 0.0;
                    }
                    continue;
                }
                int from = bOff + j * bJ;
                for (int k = 0; k < kb; k++) {
                    packed[base + k * nr + jj] = b[from + k * bK];
                }
            }
        }
    }

    private static void copyDoubles(double[] c, int at, int cRow, double[] edge, int rows, int width, int nr,
                                    boolean in) {
        for (int r = 0; r < rows; r++) {
            if (in) {
                System.arraycopy(c, at + r * cRow, edge, r * nr, width);
            } else {
                System.arraycopy(edge, r * nr, c, at + r * cRow, width);
            }
        }
    }

    private static void doubleKernel(double[] a, int aAt, double[] packed, int panel, int kb, double[] c, int cAt,
                                     int cRow) {
        int c1 = cAt + cRow;
        int c2 = c1 + cRow;
        int c3 = c2 + cRow;
        int c4 = c3 + cRow;
        int c5 = c4 + cRow;
        DoubleVector s00 = DoubleVector.fromArray(DOUBLES, c, cAt);
        DoubleVector s01 = DoubleVector.fromArray(DOUBLES, c, cAt + DL);
        DoubleVector s10 = DoubleVector.fromArray(DOUBLES, c, c1);
        DoubleVector s11 = DoubleVector.fromArray(DOUBLES, c, c1 + DL);
        DoubleVector s20 = DoubleVector.fromArray(DOUBLES, c, c2);
        DoubleVector s21 = DoubleVector.fromArray(DOUBLES, c, c2 + DL);
        DoubleVector s30 = DoubleVector.fromArray(DOUBLES, c, c3);
        DoubleVector s31 = DoubleVector.fromArray(DOUBLES, c, c3 + DL);
        DoubleVector s40 = DoubleVector.fromArray(DOUBLES, c, c4);
        DoubleVector s41 = DoubleVector.fromArray(DOUBLES, c, c4 + DL);
        DoubleVector s50 = DoubleVector.fromArray(DOUBLES, c, c5);
        DoubleVector s51 = DoubleVector.fromArray(DOUBLES, c, c5 + DL);
        int a0 = aAt;
        int pb = panel;
        for (int k = 0; k < kb; k++) {
            DoubleVector b0 = DoubleVector.fromArray(DOUBLES, packed, pb);
            DoubleVector b1 = DoubleVector.fromArray(DOUBLES, packed, pb + DL);
            pb += 2 * DL;
            DoubleVector x = DoubleVector.broadcast(DOUBLES, a[a0]);
            s00 = b0.fma(x, s00);
            s01 = b1.fma(x, s01);
            x = DoubleVector.broadcast(DOUBLES, a[a0 + kb]);
            s10 = b0.fma(x, s10);
            s11 = b1.fma(x, s11);
            x = DoubleVector.broadcast(DOUBLES, a[a0 + 2 * kb]);
            s20 = b0.fma(x, s20);
            s21 = b1.fma(x, s21);
            x = DoubleVector.broadcast(DOUBLES, a[a0 + 3 * kb]);
            s30 = b0.fma(x, s30);
            s31 = b1.fma(x, s31);
            x = DoubleVector.broadcast(DOUBLES, a[a0 + 4 * kb]);
            s40 = b0.fma(x, s40);
            s41 = b1.fma(x, s41);
            x = DoubleVector.broadcast(DOUBLES, a[a0 + 5 * kb]);
            s50 = b0.fma(x, s50);
            s51 = b1.fma(x, s51);
            a0++;
        }
        s00.intoArray(c, cAt);
        s01.intoArray(c, cAt + DL);
        s10.intoArray(c, c1);
        s11.intoArray(c, c1 + DL);
        s20.intoArray(c, c2);
        s21.intoArray(c, c2 + DL);
        s30.intoArray(c, c3);
        s31.intoArray(c, c3 + DL);
        s40.intoArray(c, c4);
        s41.intoArray(c, c4 + DL);
        s50.intoArray(c, c5);
        s51.intoArray(c, c5 + DL);
    }
}

package io.longnet.spark;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;

/**
 * The block layout of docs/ARCHITECTURE.md §3 and the plan's partitions: rows {@code (seq_id, block, q, k, v)} of B
 * positions (little-endian float32 binaries) assembled into one partition's {@link QkvPartition}, and an
 * {@link AttentionPartition} split back into rows {@code (seq_id, block, o[, lse])}. One implementation for the
 * ML stage, the Parquet input of {@code attend} and its Parquet output.
 */
public final class BlockRows {

    private BlockRows() {
    }

    /**
     * Partition {@code p} of {@code plan} from its rows (fields 1..4: block, q, k, v; any order), checking
     * that every block is there once with B positions (fewer for the sequence's last) of {@code width}
     * floats; {@code what} names the sequence in messages.
     */
    public static QkvPartition assemble(String what, PartitionPlan plan, int p, int b, int width, List<Row> rows) {
        long start = plan.start(p);
        int len = plan.length(p);
        float[][] t = new float[3][len * width];
        boolean[] seen = new boolean[(len + b - 1) / b];
        for (Row r : rows) {
            long block = r.getLong(1);
            long at = block * b - start;
            if (at < 0 || at >= len || seen[(int) at / b]) {
                throw new IllegalArgumentException(what + ": block " + block + " is out of range or repeated");
            }
            seen[(int) at / b] = true;
            int positions = (int) Math.min(b, len - at);
            for (int i = 0; i < 3; i++) {
                byte[] bytes = (byte[]) r.get(2 + i);
                if (bytes.length != positions * width * Float.BYTES) {
                    throw new IllegalArgumentException(what + ", block " + block + ": column " + "qkv".charAt(i)
                            + " holds " + bytes.length + " bytes, expected " + positions * width * Float.BYTES + " ("
                            + positions + " positions x H x d x 4)");
                }
                ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer()
                        .get(t[i], (int) at * width, positions * width);
            }
        }
        for (int i = 0; i < seen.length; i++) {
            if (!seen[i]) {
                throw new IllegalArgumentException(what + ": block " + (start / b + i) + " is missing");
            }
        }
        return new QkvPartition(p, start, len, t[0], t[1], t[2]);
    }

    /** {@code a} as rows {@code (seq_id, block, o[, lse])} of {@code b} positions. */
    public static List<Row> split(AttentionPartition a, long seqId, int b, int width, int heads, boolean withLse) {
        List<Row> rows = new ArrayList<>((a.length() + b - 1) / b);
        for (int at = 0; at < a.length(); at += b) {
            int positions = Math.min(b, a.length() - at);
            byte[] o = littleEndian(a.o(), at * width, positions * width);
            long block = (a.start() + at) / b;
            rows.add(withLse ? RowFactory.create(seqId, block, o, littleEndian(a.lse(), at * heads, positions * heads))
                    : RowFactory.create(seqId, block, o));
        }
        return rows;
    }

    /** {@code count} floats from {@code from} as little-endian float32 bytes. */
    public static byte[] littleEndian(float[] values, int from, int count) {
        ByteBuffer out = ByteBuffer.allocate(count * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        out.asFloatBuffer().put(values, from, count);
        return out.array();
    }
}

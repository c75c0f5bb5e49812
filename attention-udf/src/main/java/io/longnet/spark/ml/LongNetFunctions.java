package io.longnet.spark.ml;

import io.longnet.attention.AttentionProbe;
import io.longnet.attention.Branch;
import io.longnet.attention.DilatedAttentionConfig;
import io.longnet.attention.HeadOffset;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.api.java.UDF2;
import org.apache.spark.sql.api.java.UDF5;
import org.apache.spark.sql.api.java.UDF8;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * SQL functions for exploring the dilated pattern at exploration size (see docs/SQL.md):
 * <ul>
 *   <li>{@code longnet_pattern(w, r, h, n, p)}: the key positions query {@code p} attends to in branch
 *       {@code (w, r)} for head {@code h} of a sequence of {@code n} positions, non-causal, with the
 *       paper's head offset {@code h mod r}; empty when head {@code h} does not select {@code p};</li>
 *   <li>{@code longnet_dependency(n, branches)}: the fewest attention hops that carry information from
 *       position 0 to position {@code n - 1} (see {@link #dependency});</li>
 *   <li>{@code longnet_attention_probe(q, k, heads, branches, causal, query, head, top_k)}: what one query
 *       attends to, each branch's mixing weight and the most probable keys ({@link AttentionProbe}).</li>
 * </ul>
 */
public final class LongNetFunctions {

    private static final String PATTERN = "longnet_pattern";
    private static final String PROBE = "longnet_attention_probe";

    /** The result of {@code longnet_attention_probe}: the branches' weights, then the top keys. */
    public static final DataType PROBE_TYPE = new StructType()
            .add("branches", DataTypes.createArrayType(new StructType()
                    .add("branch", DataTypes.StringType, false)
                    .add("selects", DataTypes.BooleanType, false)
                    .add("weight", DataTypes.DoubleType, false)
                    .add("keys", DataTypes.IntegerType, false), false), false)
            .add("keys", DataTypes.createArrayType(new StructType()
                    .add("position", DataTypes.LongType, false)
                    .add("probability", DataTypes.DoubleType, false), false), false);

    /** Largest {@code n} {@code longnet_dependency} accepts: it walks every position once. */
    public static final long MAX_DEPENDENCY_LENGTH = 1L << 24;

    private LongNetFunctions() {
    }

    /** Registers the functions in {@code spark}'s session. */
    public static void register(SparkSession spark) {
        spark.udf().register(PATTERN,
                (UDF5<Number, Number, Number, Number, Number, long[]>) (w, r, h, n, p) ->
                        w == null || r == null || h == null || n == null || p == null ? null
                                : pattern(toInt(PATTERN, "w", w), toInt(PATTERN, "r", r), toInt(PATTERN, "h", h),
                                        n.longValue(), p.longValue()),
                DataTypes.createArrayType(DataTypes.LongType, false));
        spark.udf().register("longnet_dependency",
                (UDF2<Number, String, Long>) (n, branches) ->
                        n == null || branches == null ? null : nullIfUnreachable(dependency(n.longValue(), branches)),
                DataTypes.LongType);
        spark.udf().register(PROBE,
                (UDF8<scala.collection.Seq<scala.collection.Seq<Number>>, scala.collection.Seq<scala.collection.Seq<Number>>,
                        Number, String, Boolean, Number, Number, Number, Row>) (q, k, heads, branches, causal, query, head,
                        topK) -> q == null || k == null || heads == null || branches == null || causal == null
                        || query == null || head == null || topK == null ? null
                        : probeRow(rows("q", q), rows("k", k), toInt(PROBE, "heads", heads), branches, causal,
                                query.longValue(), toInt(PROBE, "head", head), toInt(PROBE, "top_k", topK)),
                PROBE_TYPE);
    }

    /**
     * {@code longnet_attention_probe} on Java arrays: {@code q} and {@code k} one row of {@code heads × d}
     * values per position, as the attention kernel receives them.
     */
    public static Row probeRow(float[][] q, float[][] k, int heads, String branches, boolean causal, long query,
                               int head, int topK) {
        int n = q.length;
        if (n == 0 || k.length != n) {
            throw new IllegalArgumentException(PROBE + ": q and k need one row per position, as many"
                    + " of each (got " + n + " and " + k.length + ")");
        }
        int width = q[0].length;
        if (heads < 1 || width % heads != 0 || width == 0) {
            throw new IllegalArgumentException(PROBE + ": a row of " + width + " values is not heads x d"
                    + " for heads " + heads);
        }
        AttentionProbe.Probe probe;
        try {
            DilatedAttentionConfig config = DilatedAttentionConfig.of(Branch.parseList(branches), heads, width / heads,
                    causal);
            probe = new AttentionProbe(config).probe(flat("q", q, width), flat("k", k, width), n, query, head, topK);
        } catch (IllegalArgumentException e) {
            throw e.getMessage().startsWith(PROBE) ? e : new IllegalArgumentException(PROBE + ": " + e.getMessage(), e);
        }
        List<Row> weights = new ArrayList<>();
        for (AttentionProbe.BranchWeight b : probe.branches()) {
            weights.add(RowFactory.create(b.branch().toString(), b.selects(), b.weight(), b.keys()));
        }
        List<Row> keys = new ArrayList<>();
        for (AttentionProbe.KeyWeight kw : probe.keys()) {
            keys.add(RowFactory.create(kw.position(), kw.probability()));
        }
        return RowFactory.create(weights, keys);
    }

    private static float[][] rows(String name, scala.collection.Seq<scala.collection.Seq<Number>> rows) {
        float[][] out = new float[rows.size()][];
        for (int p = 0; p < out.length; p++) {
            scala.collection.Seq<Number> row = rows.apply(p);
            if (row == null) {
                throw new IllegalArgumentException(PROBE + ": " + name + " row " + p + " is NULL");
            }
            out[p] = new float[row.size()];
            for (int i = 0; i < out[p].length; i++) {
                Number v = row.apply(i);
                if (v == null) {
                    throw new IllegalArgumentException(PROBE + ": " + name + "[" + p + "][" + i + "] is NULL");
                }
                out[p][i] = v.floatValue();
            }
        }
        return out;
    }

    private static float[] flat(String name, float[][] rows, int width) {
        float[] out = new float[rows.length * width];
        for (int p = 0; p < rows.length; p++) {
            if (rows[p].length != width) {
                throw new IllegalArgumentException(PROBE + ": " + name + " row " + p + " has "
                        + rows[p].length + " values, row 0 of q has " + width);
            }
            System.arraycopy(rows[p], 0, out, p * width, width);
        }
        return out;
    }

    /**
     * Java UDFs receive their arguments as SQL typed them (an {@code INT} literal arrives as Integer, a
     * {@code BIGINT} column as Long), so the functions accept any integral number and check its range.
     */
    private static int toInt(String function, String name, Number value) {
        long v = value.longValue();
        if (v != value.doubleValue() || v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(function + ": " + name + " must be a whole number in int range"
                    + " (got " + value + ")");
        }
        return (int) v;
    }

    private static Long nullIfUnreachable(long hops) {
        return hops < 0 ? null : hops;
    }

    /**
     * Keys of query {@code p} in branch {@code (w, r)}, head {@code h}, sequence of {@code n}: when
     * {@code p}'s row in its segment {@code [s, min(s + w, n))} is {@code h mod r} modulo {@code r}, the
     * positions {@code s + h mod r, s + h mod r + r, ...} of that segment; otherwise none.
     */
    public static long[] pattern(int w, int r, int h, long n, long p) {
        if (w < 1 || r < 1 || r > w) {
            throw new IllegalArgumentException("longnet_pattern: branch " + w + ":" + r
                    + " needs segment length w >= 1 and dilation 1 <= r <= w");
        }
        if (h < 0) {
            throw new IllegalArgumentException("longnet_pattern: head must be >= 0 (got " + h + ")");
        }
        if (n < 1) {
            throw new IllegalArgumentException("longnet_pattern: sequence length n must be >= 1 (got " + n + ")");
        }
        if (p < 0 || p >= n) {
            throw new IllegalArgumentException("longnet_pattern: position p must be in [0, n) = [0, " + n
                    + ") (got " + p + ")");
        }
        long start = p / w * w;
        long end = Math.min(start + w, n);
        int offset = HeadOffset.PAPER.offset(h, h + 1, r);
        if ((p - start) % r != offset) {
            return new long[0];
        }
        long[] keys = new long[(int) ((end - start - offset + r - 1) / r)];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = start + offset + (long) i * r;
        }
        return keys;
    }

    /**
     * The length of the shortest path from position 0 to position {@code n - 1} in the graph of one
     * non-causal dilated-attention layer with branches {@code branches} and enough heads to cover every
     * offset ({@code H >= max r}; heads are mixed between layers): an edge joins {@code i} and {@code j}
     * when some branch {@code (w, r)} puts them in the same segment ({@code i / w == j / w}) with
     * {@code i ≡ j (mod r)}. So the result is the number of stacked layers after which output
     * {@code n - 1} can depend on input 0; 0 for {@code n = 1}; -1 (SQL: NULL) when no number of layers
     * connects them (e.g. {@code 4:1} alone with {@code n > 4}). Breadth-first over the segment classes,
     * each visited once, so {@code O(n x branches)}; {@code n} is limited to {@link #MAX_DEPENDENCY_LENGTH}.
     */
    public static long dependency(long n, String branches) {
        List<Branch> parsed = Branch.parseList(branches);
        DilatedAttentionConfig.of(parsed, 1, 1, false); // validates with the engine's messages
        if (n < 1 || n > MAX_DEPENDENCY_LENGTH) {
            throw new IllegalArgumentException("longnet_dependency: n must be in [1, " + MAX_DEPENDENCY_LENGTH
                    + "] (got " + n + "); it is meant for exploration-sized sequences");
        }
        int size = (int) n;
        int[] dist = new int[size];
        java.util.Arrays.fill(dist, -1);
        boolean[][] classDone = new boolean[parsed.size()][];
        for (int b = 0; b < parsed.size(); b++) {
            Branch br = parsed.get(b);
            classDone[b] = new boolean[(int) (br.segments(n) * br.dilation())];
        }
        // A plain int queue over positions: each class (branch, segment, residue) is expanded once, which
        // keeps the walk linear although every class is a clique.
        int[] queue = new int[size];
        int head = 0;
        int tail = 0;
        dist[0] = 0;
        queue[tail++] = 0;
        while (head < tail) {
            int i = queue[head++];
            if (i == size - 1) {
                return dist[i];
            }
            for (int b = 0; b < parsed.size(); b++) {
                int w = parsed.get(b).segmentLength();
                int r = parsed.get(b).dilation();
                int segment = i / w;
                int residue = (i - segment * w) % r;
                int cls = segment * r + residue;
                if (classDone[b][cls]) {
                    continue;
                }
                classDone[b][cls] = true;
                int end = (int) Math.min((long) segment * w + w, n);
                for (int j = segment * w + residue; j < end; j += r) {
                    if (dist[j] < 0) {
                        dist[j] = dist[i] + 1;
                        queue[tail++] = j;
                    }
                }
            }
        }
        return -1;
    }
}

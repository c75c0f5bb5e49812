package io.longnet.spark.ml;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.attention.Branch;
import io.longnet.attention.DilatedAttentionConfig;
import io.longnet.attention.DilatedSelection;
import io.longnet.spark.SparkSessionExtension;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@code longnet_pattern} and {@code longnet_dependency} against hand values, brute force, and docs/SQL.md. */
class LongNetFunctionsTest {

    @RegisterExtension
    static SparkSessionExtension spark = new SparkSessionExtension();

    @BeforeAll
    static void register() {
        LongNetFunctions.register(spark.session());
    }

    private static Row sql(String query) {
        return spark.session().sql(query).collectAsList().get(0);
    }

    @Test
    void patternKnownValues() {
        // Segment of 5 is [4, 8); head 1 of dilation 2 keeps offset 1: rows 5 and 7.
        assertEquals(List.of(5L, 7L), sql("SELECT longnet_pattern(4, 2, 1, 10, 5)").getList(0));
        assertEquals(List.of(), sql("SELECT longnet_pattern(4, 2, 1, 10, 4)").getList(0));
        // Head 3 of dilation 2 has offset 3 mod 2 = 1 too.
        assertEquals(List.of(5L, 7L), sql("SELECT longnet_pattern(4, 2, 3, 10, 7)").getList(0));
        // Dense branch: the whole (short, last) segment.
        assertEquals(List.of(8L, 9L), sql("SELECT longnet_pattern(4, 1, 0, 10, 9)").getList(0));
        assertTrue(sql("SELECT longnet_pattern(4, 2, 1, 10, CAST(NULL AS BIGINT))").isNullAt(0));
    }

    /** Brute force from the definition: rows of p's segment with the same offset as head h's. */
    @Test
    void patternEqualsEngineSelection() {
        for (int w : new int[] {1, 3, 4, 8}) {
            for (int r = 1; r <= w; r++) {
                for (int h = 0; h < 5; h++) {
                    for (long n = 1; n <= 19; n += 3) {
                        for (long p = 0; p < n; p++) {
                            long s = p / w * w;
                            int len = (int) Math.min(w, n - s);
                            DilatedSelection sel = DilatedSelection.of(0, len, h % r, r);
                            List<Long> rows = new ArrayList<>();
                            for (int i = 0; i < sel.count(); i++) {
                                rows.add(s + sel.row(i));
                            }
                            long[] expected = rows.contains(p)
                                    ? rows.stream().mapToLong(Long::longValue).toArray() : new long[0];
                            assertArrayEquals(expected, LongNetFunctions.pattern(w, r, h, n, p),
                                    "w=" + w + " r=" + r + " h=" + h + " n=" + n + " p=" + p);
                        }
                    }
                }
            }
        }
    }

    @Test
    void patternRejectsBadArguments() {
        String dilation = assertThrows(IllegalArgumentException.class,
                () -> LongNetFunctions.pattern(4, 8, 0, 10, 1)).getMessage();
        assertTrue(dilation.contains("dilation 1 <= r <= w"), dilation);
        String position = assertThrows(IllegalArgumentException.class,
                () -> LongNetFunctions.pattern(4, 2, 0, 10, 10)).getMessage();
        assertTrue(position.contains("position p must be in [0, n) = [0, 10)"), position);
        String head = assertThrows(IllegalArgumentException.class,
                () -> LongNetFunctions.pattern(4, 2, -1, 10, 1)).getMessage();
        assertTrue(head.contains("head must be >= 0"), head);
    }

    /**
     * Brute force: the graph with an edge wherever some head h in [0, max r) of some branch selects both
     * positions in one segment (the engine's own offsets and selection), searched by plain BFS.
     */
    private static long bruteForceDependency(int n, String branches) {
        List<Branch> parsed = Branch.parseList(branches);
        int heads = 0;
        for (Branch b : parsed) {
            heads = Math.max(heads, b.dilation());
        }
        DilatedAttentionConfig config = DilatedAttentionConfig.of(parsed, heads, 1, false);
        boolean[][] edge = new boolean[n][n];
        for (Branch b : parsed) {
            for (int h = 0; h < heads; h++) {
                for (long s = 0; s < n; s += b.segmentLength()) {
                    int len = (int) Math.min(b.segmentLength(), n - s);
                    DilatedSelection sel = DilatedSelection.of(0, len, config.offset(b, h), b.dilation());
                    for (int i = 0; i < sel.count(); i++) {
                        for (int j = 0; j < sel.count(); j++) {
                            edge[(int) s + sel.row(i)][(int) s + sel.row(j)] = true;
                        }
                    }
                }
            }
        }
        int[] dist = new int[n];
        Arrays.fill(dist, -1);
        dist[0] = 0;
        ArrayDeque<Integer> queue = new ArrayDeque<>(List.of(0));
        while (!queue.isEmpty()) {
            int i = queue.poll();
            for (int j = 0; j < n; j++) {
                if (edge[i][j] && dist[j] < 0) {
                    dist[j] = dist[i] + 1;
                    queue.add(j);
                }
            }
        }
        return dist[n - 1];
    }

    @Test
    void dependencyEqualsBruteForceBfs() {
        long seed = 20261126L;
        System.out.println("seed " + seed);
        SplittableRandom rnd = new SplittableRandom(seed);
        List<String> configs = new ArrayList<>(List.of("4:1", "4:1,16:4", "4:1,16:4,64:16", "8:1,16:2,32:4",
                "2:1,6:3", "3:1,5:2,12:4", "1:1,7:7"));
        for (int i = 0; i < 20; i++) {
            StringBuilder s = new StringBuilder(1 + rnd.nextInt(6) + ":1");
            int w = 1 + rnd.nextInt(6);
            for (int b = 0; b < 2; b++) {
                w += 1 + rnd.nextInt(24);
                s.append(',').append(w).append(':').append(1 + rnd.nextInt(Math.min(w, 8)));
            }
            configs.add(s.toString());
        }
        for (String branches : configs) {
            for (int n = 1; n <= 70; n++) {
                assertEquals(bruteForceDependency(n, branches), LongNetFunctions.dependency(n, branches),
                        "n=" + n + " branches " + branches);
            }
        }
    }

    @Test
    void dependencyInSql() {
        assertEquals(2L, sql("SELECT longnet_dependency(16, '4:1,16:4')").getLong(0));
        assertNull(sql("SELECT longnet_dependency(17, '4:1,16:4')").get(0));
        String bad = assertThrows(IllegalArgumentException.class,
                () -> LongNetFunctions.dependency(16, "4:1,16:0")).getMessage();
        assertTrue(bad.contains("branch 16:0: dilation must be >= 1"), bad);
        String tooLong = assertThrows(IllegalArgumentException.class,
                () -> LongNetFunctions.dependency(1L << 40, "4:1")).getMessage();
        assertTrue(tooLong.contains("exploration-sized"), tooLong);
    }

    /**
     * {@code longnet_attention_probe} in SQL gives the engine's probe ({@link io.longnet.attention.AttentionProbe},
     * tested against a dense brute force there) of the same rows: weights, key positions and probabilities.
     */
    @Test
    void attentionProbeInSqlEqualsTheEngine() {
        String rows = "transform(sequence(0, 39), p -> transform(sequence(0, 15), i -> CAST(sin(p * 1.7 + i * %s) AS FLOAT)))";
        Row row = sql("SELECT q, k, longnet_attention_probe(q, k, 2, '8:1,16:2,32:4', true, 37, 1, 4) FROM (SELECT "
                + rows.formatted("0.3") + " AS q, " + rows.formatted("0.7") + " AS k)");
        float[][] q = floats(row.getList(0));
        float[][] k = floats(row.getList(1));
        Row want = LongNetFunctions.probeRow(q, k, 2, "8:1,16:2,32:4", true, 37, 1, 4);
        Row got = row.getStruct(2);
        // probeRow holds Java lists (what the UDF hands Spark); Spark gives them back as its own.
        assertEquals(want.get(0).toString(), got.getList(0).toString());
        assertEquals(want.get(1).toString(), got.getList(1).toString());
        assertEquals(4, got.getList(1).size());
        double sum = 0;
        for (Object b : got.getList(0)) {
            sum += ((Row) b).getDouble(2);
        }
        assertEquals(1, sum, 1e-12, "the branches' weights sum to 1");
        assertTrue(assertThrows(Exception.class, () -> sql("SELECT longnet_attention_probe(" + rows.formatted("0.3")
                + ", " + rows.formatted("0.7") + ", 2, '8:1', true, 40, 0, 4)")).getMessage()
                .contains("longnet_attention_probe: query position 40 is not in [0, 40)"));
    }

    private static float[][] floats(List<Object> rows) {
        float[][] out = new float[rows.size()][];
        for (int p = 0; p < out.length; p++) {
            List<?> row = rows.get(p) instanceof List<?> l ? l
                    : scala.jdk.javaapi.CollectionConverters.asJava((scala.collection.Seq<?>) rows.get(p));
            out[p] = new float[row.size()];
            for (int i = 0; i < out[p].length; i++) {
                out[p][i] = (Float) row.get(i);
            }
        }
        return out;
    }

    /** Every ```sql block of docs/SQL.md followed by a "Result: `...`" line returns that result. */
    @Test
    void docsExamplesHold() throws Exception {
        Path doc = Path.of("..", "docs", "SQL.md");
        String text = Files.readString(doc);
        Matcher m = Pattern.compile("```sql\\n(.*?)\\n```\\s*\\nResult: `([^`]*)`", Pattern.DOTALL).matcher(text);
        int examples = 0;
        while (m.find()) {
            Row row = sql(m.group(1).trim());
            String actual = row.isNullAt(0) ? "NULL"
                    : row.get(0) instanceof scala.collection.Seq<?> ? row.getList(0).toString()
                    : row.get(0).toString();
            assertEquals(m.group(2), actual, m.group(1));
            examples++;
        }
        int blocks = text.split("```sql", -1).length - 1;
        assertEquals(blocks, examples, "every ```sql block of " + doc + " needs a Result line");
        assertTrue(examples >= 8, "examples found: " + examples);
    }
}

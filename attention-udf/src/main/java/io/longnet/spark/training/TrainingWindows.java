package io.longnet.spark.training;

import io.longnet.spark.TokenSequences;
import io.longnet.training.WindowSplit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.storage.StorageLevel;
import scala.Tuple2;

/**
 * A token dataset as training examples: its sequences end to end in {@code seq_id} order (documents are
 * packed, as language-model training does), cut into windows of {@code length} tokens numbered from 0;
 * a last partial window is left out ({@link WindowSplit}, which also says which are held out). Windows are built
 * on the executors from the dataset's blocks (each block sends its tokens to the windows it overlaps);
 * the driver holds only the sequence lengths and window numbers.
 */
final class TrainingWindows implements AutoCloseable {

    private final JavaRDD<TrainingWindow> windows;
    private final WindowSplit split;

    /**
     * Windows of {@code length} tokens of the dataset {@code blocks} (blocks of {@code blockSize}; 0: the
     * longest block of the data), whose layout is checked first ({@link TokenSequences#layout}: block
     * numbering, full blocks, token ids below {@code vocabSize}).
     */
    TrainingWindows(JavaSparkContext jsc, Dataset<Row> blocks, int blockSize, int vocabSize, int length,
                    double validationFraction) {
        Map<Long, Long> firstOf = new java.util.HashMap<>();
        long at = 0;
        TokenSequences.Layout layout = TokenSequences.layout(blocks, blockSize, vocabSize);
        for (Map.Entry<Long, Long> e : layout.lengths().entrySet()) {
            firstOf.put(e.getKey(), at);
            at += e.getValue();
        }
        this.split = WindowSplit.of(at, length, validationFraction);
        Broadcast<Map<Long, Long>> first = jsc.broadcast(firstOf);
        long windowsTotal = split.count();
        int b = layout.blockSize();
        jsc.setCallSite("cut training windows of " + length + " tokens");
        this.windows = blocks.javaRDD()
                .flatMapToPair(row -> {
                    long start = first.value().get(row.getLong(0)) + row.getLong(1) * b;
                    List<Integer> ids = row.getList(2);
                    List<Tuple2<Long, Tuple2<Long, int[]>>> pieces = new ArrayList<>(2);
                    int i = 0;
                    while (i < ids.size()) {
                        long position = start + i;
                        long window = position / length;
                        int take = (int) Math.min(ids.size() - i, (window + 1) * length - position);
                        if (window < windowsTotal) {
                            int[] piece = new int[take];
                            for (int j = 0; j < take; j++) {
                                piece[j] = ids.get(i + j);
                            }
                            pieces.add(new Tuple2<>(window, new Tuple2<>(position - window * length, piece)));
                        }
                        i += take;
                    }
                    return pieces.iterator();
                })
                .groupByKey()
                .map(w -> new TrainingWindow(w._1(), assemble(w._2(), length)))
                .persist(StorageLevel.MEMORY_AND_DISK())
                .setName("training windows");
        jsc.clearCallSite();
    }

    private static int[] assemble(Iterable<Tuple2<Long, int[]>> pieces, int length) {
        List<Tuple2<Long, int[]>> sorted = new ArrayList<>();
        pieces.forEach(sorted::add);
        sorted.sort(Comparator.comparingLong(Tuple2::_1));
        int[] out = new int[length];
        int at = 0;
        for (Tuple2<Long, int[]> p : sorted) {
            if (p._1() != at) {
                throw new IllegalStateException("window pieces do not join at " + at + " (next starts at " + p._1() + ")");
            }
            System.arraycopy(p._2(), 0, out, at, p._2().length);
            at += p._2().length;
        }
        if (at != length) {
            throw new IllegalStateException("a window of " + at + " tokens, expected " + length);
        }
        return out;
    }

    JavaRDD<TrainingWindow> rdd() {
        return windows;
    }

    /** How the dataset's tokens fall into windows, and which are held out. */
    WindowSplit split() {
        return split;
    }

    @Override
    public void close() {
        windows.unpersist(false);
    }
}

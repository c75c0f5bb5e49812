package io.longnet.jobs;

import io.longnet.spark.PartitionPlan;
import io.longnet.spark.PhaseTimes;
import io.longnet.spark.QkvPartition;
import java.io.IOException;
import java.io.Serializable;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.SparkSession;

/** Where {@code attend} takes q, k, v from: a safetensors file or a Parquet block dataset. */
interface QkvInput extends Serializable {

    /** A {@code .safetensors} path is a file; anything else a block dataset directory. */
    static QkvInput open(String uri, Configuration conf) throws IOException {
        return uri.endsWith(".safetensors") ? SafetensorsQkv.open(uri, conf) : ParquetQkv.open(uri, conf);
    }

    /** q, k and v are each {@code [n, heads, headDim]}. */
    record Shape(long n, int heads, int headDim) implements Serializable {

        /** Floats per position: {@code H * d}. */
        int width() {
            return heads * headDim;
        }

        /** The tensors' shape, as {@link io.longnet.tensors.TensorChecks} names it in messages. */
        long[] dims() {
            return new long[] {n, heads, headDim};
        }
    }

    Shape shape();

    /** The phase of {@link PhaseTimes} the tasks' reading (and checking) time goes to. */
    String READ = "read";

    /**
     * Partition {@code p} of the plan as partition {@code p} of the RDD, one block each; the tasks add
     * their reading time to {@code times}' {@link #READ}.
     */
    JavaRDD<QkvPartition> blocks(SparkSession spark, PartitionPlan plan, PhaseTimes times);
}

package io.longnet.datasets;

import java.io.Serializable;

/**
 * One row of a token block dataset (docs/ARCHITECTURE.md §3): positions {@code [block * B, block * B + tokens.length)}
 * of sequence {@code seqId}. A Java bean, not a record, because Spark's {@code Encoders.bean} needs
 * getters and setters; through it the {@code int[]} goes into Spark's rows as one copy, with no boxing.
 * In Parquet the columns are {@code seq_id long, block long, tokens array<int>} (see
 * {@link TokenBlocks#read}).
 */
public final class TokenBlock implements Serializable {

    private static final long serialVersionUID = 1L;

    private long seqId;
    private long block;
    private int[] tokens;

    public TokenBlock() {
    }

    public TokenBlock(long seqId, long block, int[] tokens) {
        this.seqId = seqId;
        this.block = block;
        this.tokens = tokens;
    }

    public long getSeqId() {
        return seqId;
    }

    public void setSeqId(long seqId) {
        this.seqId = seqId;
    }

    public long getBlock() {
        return block;
    }

    public void setBlock(long block) {
        this.block = block;
    }

    public int[] getTokens() {
        return tokens;
    }

    public void setTokens(int[] tokens) {
        this.tokens = tokens;
    }

    @Override
    public String toString() {
        return "TokenBlock[seq " + seqId + ", block " + block + ", " + (tokens == null ? 0 : tokens.length)
                + " tokens]";
    }
}

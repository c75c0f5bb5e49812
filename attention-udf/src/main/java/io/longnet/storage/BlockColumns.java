package io.longnet.storage;

/**
 * The fixed column names of the block datasets (Parquet rows of B positions of one sequence): the key
 * {@code (seq_id, block)} of every row, and the value columns of the kinds longnet writes. Vector datasets
 * also have a column per tensor named by their {@code _longnet.json} manifest (q, k, v; o, lse).
 */
public final class BlockColumns {

    /** The sequence a row belongs to (long). */
    public static final String SEQ_ID = "seq_id";
    /** The row's index within its sequence: positions {@code [block * B, block * B + B)} (long). */
    public static final String BLOCK = "block";
    /** A token dataset's token ids (array of int). */
    public static final String TOKENS = "tokens";
    /** encode's hidden states (binary, little-endian float32, {@code B x d_model}). */
    public static final String HIDDEN = "hidden";
    /** score's per-position log-probabilities (array of float). */
    public static final String LOG_PROBS = "log_probs";

    private BlockColumns() {
    }
}

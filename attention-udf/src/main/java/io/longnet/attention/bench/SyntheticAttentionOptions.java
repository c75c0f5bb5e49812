package io.longnet.attention.bench;

import io.longnet.attention.Branch;
import io.longnet.attention.DilatedAttentionConfig;
import java.util.List;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;

/**
 * The attention a benchmark runs on random inputs ({@code --branches}, {@code --heads}, {@code --dim},
 * {@code --causal}): a picocli mixin shared by {@link AttentionBench} and {@code longnet bench attend}.
 */
public final class SyntheticAttentionOptions {

    @Option(names = "--branches", defaultValue = "256:1,512:2,1024:4", paramLabel = "w:r,...",
            description = "branches (default: config B, 256:1,512:2,1024:4)")
    private String branches;

    @Option(names = "--heads", defaultValue = "4", paramLabel = "H", converter = BenchCommandLine.Positive.class,
            description = "heads (default: 4)")
    private int heads;

    @Option(names = "--dim", defaultValue = "32", paramLabel = "d", converter = BenchCommandLine.Positive.class,
            description = "head width (default: 32)")
    private int dim;

    @Option(names = "--causal", defaultValue = "both", paramLabel = "both|true|false",
            converter = CausalConverter.class, description = "causal, non-causal or both (default: both)")
    private CausalRuns causal;

    /** The non-causal config of these branches, heads and head width. */
    public DilatedAttentionConfig config() {
        return DilatedAttentionConfig.of(Branch.parseList(branches), heads, dim, false);
    }

    /** The causal flags to run, non-causal first. */
    public List<Boolean> causal() {
        return causal.flags();
    }

    /** {@code --causal} through {@link CausalRuns#parse}, whose message names the valid values. */
    static final class CausalConverter implements ITypeConverter<CausalRuns> {
        @Override
        public CausalRuns convert(String value) {
            return CausalRuns.parse(value);
        }
    }
}

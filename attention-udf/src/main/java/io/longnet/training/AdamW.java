package io.longnet.training;

import java.io.Serializable;
import java.util.List;

/**
 * AdamW (Loshchilov and Hutter, decoupled weight decay) over a flat float64 parameter vector laid out by
 * {@link ParameterLayout}, with a linear warm-up then cosine decay of the learning rate and global-norm
 * gradient clipping. For step {@code t} (1-based), gradient {@code g} (scaled, then clipped) and
 * learning rate {@code lr = learningRate(t - 1)}:
 * <pre>
 *   m = beta1 m + (1 - beta1) g,          v = beta2 v + (1 - beta2) g^2
 *   p = p (1 - lr wd) - lr mhat / (sqrt(vhat) + eps),   mhat = m / (1 - beta1^t),  vhat = v / (1 - beta2^t)
 * </pre>
 * as {@code torch.optim.AdamW} (the decay term only on decayed tensors, see {@link #decays}).
 *
 * <p><b>Weight decay</b> applies to the matrices (rank-2 tensors): the projections, {@code fc1}, {@code fc2}
 * and the tied embedding. The embedding is decayed because it is also the LM head's weight matrix, and
 * decaying it is the common choice for tied heads (GPT-2-style training); leaving it out would leave the
 * largest matrix of a small-vocabulary model unregularised. LayerNorm weights and biases and all biases
 * are not decayed (decay would pull LayerNorm gains towards 0, a scale the norm exists to learn).
 *
 * <p>Not thread-safe. The moments are held arrays ({@link #firstMoment()}, {@link #secondMoment()}) so
 * that a checkpoint writes them without copies.
 */
public final class AdamW {

    /**
     * Optimiser settings.
     *
     * @param learningRate         peak learning rate, reached at the end of the warm-up
     * @param beta1                first-moment decay, in {@code [0, 1)}
     * @param beta2                second-moment decay, in {@code [0, 1)}
     * @param epsilon              added to {@code sqrt(vhat)}, {@code > 0}
     * @param weightDecay          decoupled weight decay of the matrices, {@code >= 0}
     * @param warmupSteps          steps of linear warm-up: step {@code s < warmupSteps} uses
     *                             {@code learningRate (s + 1) / warmupSteps}
     * @param totalSteps           the schedule's length: the cosine decays from the peak at step
     *                             {@code warmupSteps} to the minimum at step {@code totalSteps}, and stays there
     * @param minLearningRateRatio the minimum as a fraction of the peak, in {@code [0, 1]}
     * @param clipNorm             global L2 norm the (scaled) gradient is clipped to, {@code > 0};
     *                             {@code Double.POSITIVE_INFINITY} turns clipping off
     */
    public record Settings(double learningRate, double beta1, double beta2, double epsilon, double weightDecay,
                           int warmupSteps, int totalSteps, double minLearningRateRatio, double clipNorm)
            implements Serializable {

        public Settings {
            if (!(learningRate > 0) || Double.isInfinite(learningRate)) {
                throw new IllegalArgumentException("learning rate must be a positive finite number (got "
                        + learningRate + "; 1e-3 is a usual start for small models)");
            }
            beta("beta1", beta1, 0.9);
            beta("beta2", beta2, 0.98);
            if (!(epsilon > 0) || Double.isInfinite(epsilon)) {
                throw new IllegalArgumentException("epsilon must be a positive finite number (got " + epsilon
                        + "; the usual value is 1e-8)");
            }
            if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) {
                throw new IllegalArgumentException("weight decay must be a finite number >= 0 (got " + weightDecay
                        + "; 0 turns it off, 0.01 is usual)");
            }
            if (totalSteps < 1) {
                throw new IllegalArgumentException("total steps must be >= 1 (got " + totalSteps + ")");
            }
            if (warmupSteps < 0 || warmupSteps > totalSteps) {
                throw new IllegalArgumentException("warm-up steps must be in [0, total steps " + totalSteps
                        + "] (got " + warmupSteps + "; a tenth of the total is usual)");
            }
            if (!(minLearningRateRatio >= 0 && minLearningRateRatio <= 1)) {
                throw new IllegalArgumentException("minimum learning rate ratio must be in [0, 1] (got "
                        + minLearningRateRatio + "; 0.1 decays to a tenth of the peak)");
            }
            if (!(clipNorm > 0)) {
                throw new IllegalArgumentException("clip norm must be > 0 (got " + clipNorm
                        + "; use Infinity to turn clipping off, 1.0 is usual)");
            }
        }

        /**
         * Learning rate 1e-3, betas 0.9 and 0.98, epsilon 1e-8, weight decay 0.01, warm-up
         * {@code min(100, totalSteps / 10)} steps, cosine decay to a tenth of the peak at {@code totalSteps},
         * gradient clipping at global norm 1.
         */
        public static Settings defaults(int totalSteps) {
            return new Settings(1e-3, 0.9, 0.98, 1e-8, 0.01, Math.min(100, Math.max(0, totalSteps / 10)), totalSteps,
                    0.1, 1.0);
        }

        private static void beta(String name, double value, double usual) {
            if (!(value >= 0 && value < 1)) {
                throw new IllegalArgumentException(name + " must be in [0, 1) (got " + value + "; the usual value is "
                        + usual + ")");
            }
        }
    }

    private final Settings settings;
    private final ParameterLayout layout;
    private final double[] m;
    private final double[] v;
    private final int[] starts;      // tensor ranges of the layout ...
    private final int[] lengths;
    private final boolean[] decayed; // ... and whether each is decayed
    private long steps;

    /** A fresh optimiser (moments zero, step 0) for parameters of {@code layout}. */
    public AdamW(Settings settings, ParameterLayout layout) {
        this(settings, layout, 0, new double[layout.size()], new double[layout.size()]);
    }

    private AdamW(Settings settings, ParameterLayout layout, long steps, double[] m, double[] v) {
        this.settings = java.util.Objects.requireNonNull(settings, "settings");
        this.layout = layout;
        this.steps = steps;
        this.m = m;
        this.v = v;
        List<String> names = layout.names();
        this.starts = new int[names.size()];
        this.lengths = new int[names.size()];
        this.decayed = new boolean[names.size()];
        for (int t = 0; t < names.size(); t++) {
            starts[t] = layout.offset(names.get(t));
            lengths[t] = layout.length(names.get(t));
            decayed[t] = layout.shape(names.get(t)).length == 2;
        }
    }

    /**
     * An optimiser resumed at {@code steps} steps taken, with moments {@code m} and {@code v} (held, not
     * copied), e.g. from a {@link TrainingCheckpoint}.
     *
     * @throws IllegalArgumentException when the moments do not fit the layout, {@code steps < 0}, or a
     *     second moment is negative or not finite
     */
    public static AdamW restore(Settings settings, ParameterLayout layout, long steps, double[] m, double[] v) {
        layout.checkLength("first moments", m);
        layout.checkLength("second moments", v);
        if (steps < 0) {
            throw new IllegalArgumentException("steps taken must be >= 0 (got " + steps + ")");
        }
        for (int i = 0; i < v.length; i++) {
            if (!(v[i] >= 0) || Double.isInfinite(v[i]) || !Double.isFinite(m[i])) {
                throw new IllegalArgumentException("moments at parameter " + i + " are m " + m[i] + ", v " + v[i]
                        + ": m must be finite, v finite and >= 0");
            }
        }
        return new AdamW(settings, layout, steps, m, v);
    }

    public Settings settings() {
        return settings;
    }

    public ParameterLayout layout() {
        return layout;
    }

    /** Whether tensor {@code name} is weight-decayed (the matrices, the tied embedding included). */
    public boolean decays(String name) {
        return layout.shape(name).length == 2;
    }

    /**
     * The learning rate of step {@code step} (0-based): {@code lr (step + 1) / warmup} during the warm-up,
     * then {@code min + (lr - min) (1 + cos(pi progress)) / 2} with
     * {@code progress = (step - warmup) / (total - warmup)}, and {@code min = lr minRatio} from
     * {@code totalSteps} on.
     */
    public double learningRate(long step) {
        if (step < 0) {
            throw new IllegalArgumentException("step must be >= 0 (got " + step + ")");
        }
        Settings s = settings;
        if (step < s.warmupSteps()) {
            return s.learningRate() * (step + 1) / s.warmupSteps();
        }
        double min = s.learningRate() * s.minLearningRateRatio();
        if (step >= s.totalSteps()) {
            return min;
        }
        double progress = (double) (step - s.warmupSteps()) / (s.totalSteps() - s.warmupSteps());
        return min + (s.learningRate() - min) * 0.5 * (1 + Math.cos(Math.PI * progress));
    }

    /**
     * One step. {@code grad} is {@code d(sum of losses)/d(params)} over the batch; it is multiplied by
     * {@code scale} (e.g. {@code 1 / predicted tokens}, making it the mean's gradient), then clipped to the
     * global norm {@code clipNorm}; {@code params} are updated in place and the step count advances.
     * {@code grad} is not modified.
     *
     * @return the global L2 norm of the scaled gradient before clipping
     * @throws IllegalArgumentException when an array has the wrong length, {@code scale} is not positive
     *     and finite, or the gradient's norm is not finite (then nothing changes: skip the batch or lower
     *     the learning rate)
     */
    public double step(double[] params, double[] grad, double scale) {
        layout.checkLength("parameters", params);
        layout.checkLength("gradient", grad);
        if (!(scale > 0) || Double.isInfinite(scale)) {
            throw new IllegalArgumentException("gradient scale must be a positive finite number (got " + scale + ")");
        }
        double sq = 0;
        for (double g : grad) {
            double s = g * scale;
            sq += s * s;
        }
        double norm = Math.sqrt(sq);
        if (!Double.isFinite(norm)) {
            throw new IllegalArgumentException("gradient norm is " + norm + " at step " + steps
                    + ": the loss diverged or the batch is bad; parameters and moments are unchanged (skip the batch"
                    + " or lower the learning rate)");
        }
        double factor = scale * (norm > settings.clipNorm() ? settings.clipNorm() / norm : 1);
        long t = steps + 1;
        double lr = learningRate(steps);
        double b1 = settings.beta1();
        double b2 = settings.beta2();
        double bc1 = 1 - Math.pow(b1, t);
        double bc2 = 1 - Math.pow(b2, t);
        double eps = settings.epsilon();
        for (int k = 0; k < starts.length; k++) {
            double keep = decayed[k] ? 1 - lr * settings.weightDecay() : 1;
            int end = starts[k] + lengths[k];
            for (int i = starts[k]; i < end; i++) {
                double g = grad[i] * factor;
                m[i] = b1 * m[i] + (1 - b1) * g;
                v[i] = b2 * v[i] + (1 - b2) * g * g;
                params[i] = params[i] * keep - lr * (m[i] / bc1) / (Math.sqrt(v[i] / bc2) + eps);
            }
        }
        steps = t;
        return norm;
    }

    /** Steps taken. */
    public long steps() {
        return steps;
    }

    /** The first moments (the held array, in the parameter layout). */
    public double[] firstMoment() {
        return m;
    }

    /** The second moments (the held array, in the parameter layout). */
    public double[] secondMoment() {
        return v;
    }
}

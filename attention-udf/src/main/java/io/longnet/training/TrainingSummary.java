package io.longnet.training;

import java.util.List;

/**
 * What a finished run reports.
 *
 * @param steps             optimiser steps of the run in all
 * @param log               each step's figures, resumed steps' from the log they left
 * @param validationLoss    mean next-token loss of the held-out windows after training ({@code NaN}: none held out)
 * @param validationWindows held-out windows
 * @param seconds           wall time of this invocation
 * @param tokensPerSecond   training tokens per second of this invocation's steps
 */
public record TrainingSummary(long steps, List<StepLog> log, double validationLoss, long validationWindows,
                              double seconds, double tokensPerSecond) {

    public double validationPerplexity() {
        return Math.exp(validationLoss);
    }
}

package io.longnet.training;

/**
 * One optimiser step's figures, a line of a run's {@code log.csv}.
 *
 * @param step            the step, from 1
 * @param loss            mean next-token loss of the step's batch, in nats
 * @param learningRate    the learning rate the step used
 * @param gradientNorm    the gradient's global norm before clipping
 * @param tokensPerSecond training tokens of the step over its wall time
 */
public record StepLog(long step, double loss, double learningRate, double gradientNorm, double tokensPerSecond) {
}

package io.longnet.spark.training;

import java.io.Serializable;

/**
 * One training example: {@code tokens} (the model predicts each from those before it), numbered
 * {@code id} in the corpus's window order. Records of windows stay on executors; the driver holds ids.
 */
public record TrainingWindow(long id, int[] tokens) implements Serializable {
}

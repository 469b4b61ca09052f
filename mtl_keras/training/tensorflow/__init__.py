"""The TensorFlow side of the training core: the steps, per-task gradients and sampled updates."""

"""The JAX side of the training core: the stateless steps and the sampled per-task optimizer updates."""

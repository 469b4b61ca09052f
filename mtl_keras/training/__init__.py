"""The training core of `MultiTaskModel`, one role per module.

- `objective`: per-task masked losses of a batch, scaled to the global batch (`TaskObjective`).
- `forward`: the forward pass task by task, computing only the tasks trained in a step.
- `trackers`: the logged values per task (`TaskTrackers`), `results_by_task`.
- `fitting`: what `fit` / `evaluate` do around Keras's loops (data checks, building, streams).
- `backend`: picks the running Keras backend's parts (the one place that looks at `KERAS_BACKEND`).
- `tensorflow/`: what is specific to the TensorFlow backend: the steps (`trainer`), per-task
  gradients for gradient-level weighting (`gradients`) and the sampled per-task optimizer updates
  (`updates`).
- `jax/`: the same for the JAX backend (stateless steps jit-compiled by Keras), plus `state`
  (Keras variables updated inside `jax.lax.cond`).
"""

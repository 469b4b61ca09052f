"""`TrainingDiagnostics`: how the tasks pull on the shared parameters, written for TensorBoard.

Every `every` steps, on its own batch, the callback writes

- `grad_norm/<task>`: `‖∇_{θ_sh} L_i‖`, each task's gradient norm on the shared parameters;
- `cosine/<a>__<b>`: `cos(g_a, g_b)` for every pair, and `conflicting_pairs`: the fraction of
  pairs with `cos < 0` (the gradients conflict, as in PCGrad);
- `task_weight/<task>`: the current task weights (the strategy's logged `<task>_weight` for an
  adaptive weighting, `Task.weight` otherwise);
- `expert_utilisation/<task>/expert_<e>`: for an `MMoE`, `CGC` or `PLE` body, the batch mean of
  task `i`'s gate weight on expert `e` (the last extraction level of a `PLE`);
- histograms `gradient/<task>` of each task's gradient entries (up to 4,096 evenly spaced
  ones, so the cost stays small), and images `cosine` (the `T × T`
  cosine matrix, blue negative, red positive) and `expert_utilisation` (tasks × experts).
"""

import keras
import numpy as np
import tensorflow as tf

from mtl_keras.diagnostics import _batches
from mtl_keras.diagnostics.heatmap import heatmap_image
from mtl_keras.layers.cgc import CGC
from mtl_keras.layers.mmoe import MMoE
from mtl_keras.layers.ple import PLE

#: Gradient histograms are drawn from at most this many evenly spaced entries of each task's gradient.
HISTOGRAM_ENTRIES = 4096


class TrainingDiagnostics(keras.callbacks.Callback):
    """Writes per-task gradient statistics, task weights and expert utilisation to TensorBoard.

    Off unless added to `fit`'s callbacks. See the module docstring for the written summaries.
    Measurements happen at the end of a training-function call whose steps cross a multiple of
    `every` (with `steps_per_execution = s > every`, once per call).

    Args:
        log_dir: the folder of the TensorBoard event files (e.g. `"logs/diagnostics"`).
        data: batches to measure on: a `mtl_keras.data` stream (read in order), a `tf.data.Dataset`
            of batches `(x, {task: y})`, or arrays `(x, {task: y})`.
        every: steps between measurements (> 0). Defaults to 100.
        histograms: also write the histograms of each task's gradient entries.
        batch_size: batch size when `data` is arrays.

    Example:

    >>> diagnostics = mk.diagnostics.TrainingDiagnostics("logs/diag", data=train, every=100)
    >>> model.fit(train, epochs=10, callbacks=[diagnostics])
    >>> # tensorboard --logdir logs/diag

    Reference: Yu et al., Gradient Surgery for Multi-Task Learning (PCGrad), NeurIPS 2020, for
    conflicting gradients; Ma et al., MMoE, KDD 2018, for expert utilisation.
    """

    def __init__(self, log_dir, data, every=100, histograms=True, batch_size=64):
        super().__init__()
        if not isinstance(log_dir, str) or not log_dir.strip():
            raise ValueError(f"`log_dir` must be a folder path. Received: log_dir={log_dir!r}")
        self.log_dir = log_dir
        self.data = data
        self.every = _batches.check_every(every)
        _batches.check_data(data, batch_size)
        self.histograms = bool(histograms)
        self.batch_size = batch_size
        self.writer = None
        self.last_values = {}

    def on_train_begin(self, logs=None):
        model = self.model
        if getattr(self, "_model_seen", None) is not model:  # trace once per model, not once per fit
            self._variables = _batches.shared_variables(model)
            self._iterator = _batches.batch_iterator(self.data, self.batch_size, model=self.model)
            self._function = tf.function(self._measure, reduce_retracing=True)
            self._write = tf.function(self._write_summaries)  # summary ops run op by op would cost more than the measurement
            self._gated = isinstance(model.body, (MMoE, CGC, PLE))
            self._model_seen = model
        if self.writer is None:
            self.writer = tf.summary.create_file_writer(self.log_dir)
        self._last = int(model.optimizer.iterations.numpy())

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        self._logs = logs
        if step // self.every > self._last // self.every:
            self.measure(step, logs)
        self._last = step

    def on_train_end(self, logs=None):
        if self.writer is not None:
            self.writer.flush()

    def measure(self, step, logs=None):
        """Takes one measurement now and writes it at `step`; returns the written scalars."""
        model = self.model
        names = model.task_names
        x, y, w = _batches.unpack(next(self._iterator))
        norms, cosine, flat, gates = self._function(x, y, w)
        norms, cosine = norms.numpy(), cosine.numpy()
        pairs = [(a, b) for a in range(len(names)) for b in range(a + 1, len(names))]
        values = {f"grad_norm/{n}": float(norms[i]) for i, n in enumerate(names)}
        values.update({f"cosine/{names[a]}__{names[b]}": float(cosine[a, b]) for a, b in pairs})
        if pairs:
            values["conflicting_pairs"] = float(np.mean([cosine[a, b] < 0 for a, b in pairs]))
        values.update({f"task_weight/{n}": weight for n, weight in self._task_weights(logs).items()})
        if gates is not None:
            gates = gates.numpy()
            for i, n in enumerate(names):
                values.update({f"expert_utilisation/{n}/expert_{e}": float(gates[i, e]) for e in range(gates.shape[1])})
        images = {"cosine": heatmap_image(cosine)[None]}
        if gates is not None:
            images["expert_utilisation"] = heatmap_image(gates, low=0.0, high=1.0)[None]
        histograms = {f"gradient/{n}": flat[i] for i, n in enumerate(names)} if self.histograms else {}
        scalars = {key: tf.constant(value, tf.float32) for key, value in values.items()}
        self._write(tf.constant(step, tf.int64), scalars, histograms, images)
        self.last_values = values
        return values

    def _write_summaries(self, step, scalars, histograms, images):
        with self.writer.as_default(step=step):
            for key, value in scalars.items():
                tf.summary.scalar(key, value)
            for key, value in histograms.items():
                tf.summary.histogram(key, value)
            for key, value in images.items():
                tf.summary.image(key, value)

    def _task_weights(self, logs):
        logs = logs if logs is not None else (getattr(self, "_logs", None) or {})
        weights = {}
        for task in self.model.tasks:
            logged = logs.get(f"{task.name}_weight")
            weights[task.name] = float(logged) if logged is not None else float(task.weight)
        return weights

    def _measure(self, x, y, w):
        model, variables = self.model, self._variables
        with tf.GradientTape(persistent=True) as tape:
            losses, _ = _batches.task_losses(model, x, y, w)
        rows = []
        for loss in losses:
            grads = tape.gradient(loss, variables)
            rows.append(tf.concat([tf.reshape(tf.zeros(tuple(v.shape)) if g is None else tf.cast(g, tf.float32), [-1]) for g, v in zip(grads, variables)], 0))
        del tape
        flat = tf.stack(rows)
        norms = tf.norm(flat, axis=1)
        unit = tf.math.divide_no_nan(flat, norms[:, None])
        cosine = tf.matmul(unit, unit, transpose_b=True)
        gates = expert_utilisation(model, x) if self._gated else None
        stride = max(1, -(-int(flat.shape[1]) // HISTOGRAM_ENTRIES))
        return norms, cosine, flat[:, ::stride], gates


def expert_utilisation(model, x):
    """`[T, E]`: each task's batch-mean gate weight per expert, for an `MMoE`, `CGC` or `PLE` body.

    For `CGC` / `PLE` a task's gate covers its own experts then the shared ones (the last
    extraction level of a `PLE`).
    """
    body = model.body
    per_task = model.is_per_task_input(x)
    inputs = [x[n] for n in model.task_names] if per_task else [x] * len(model.tasks)
    if isinstance(body, MMoE):
        gates = [body.gate_weights(inputs[i], task_index=i) for i in range(len(model.tasks))]
    elif isinstance(body, CGC):
        gates = [keras.ops.softmax(body.gates[i](inputs[i]), axis=-1) for i in range(len(model.tasks))]
    else:  # PLE: one shared input through the inner levels, then the last level's task gates
        task_inputs, shared = [x] * len(model.tasks), x
        for level in body.levels[:-1]:
            task_inputs, shared = level.extract(task_inputs, shared)
        last = body.levels[-1]
        gates = [keras.ops.softmax(last.gates[i](task_inputs[i]), axis=-1) for i in range(len(model.tasks))]
    return tf.stack([tf.reduce_mean(tf.reshape(g, [-1, tf.shape(g)[-1]]), axis=0) for g in gates])

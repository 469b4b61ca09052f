"""Inter-task affinity (TAG, Fifty et al., NeurIPS 2021): how a step on one task changes another's loss.

For a batch and the shared parameters `θ_sh`, a *lookahead* SGD step on task `i`'s gradient,
`θ_sh' = θ_sh − η ∇_{θ_sh} L_i`, changes task `j`'s loss on the same batch; the affinity of `i`
onto `j` is the relative change

    Z_{i→j} = 1 − L_j(θ_sh − η ∇_{θ_sh} L_i) / L_j(θ_sh),

positive when the step on `i` also lowers `L_j` (the tasks help each other), negative when it
raises it. The heads stay fixed: only the shared parameters move. Averaged over training, the
`T × T` matrix `Z` tells which tasks to train together (`mtl_keras.diagnostics.group_tasks`).

The lookahead is one compiled function (`tf.function`): a tape records the `T` losses, `T`
backward passes give the task gradients, and for each task the shared parameters are assigned
`θ_sh − η g_i`, the losses re-computed, and the parameters restored exactly (from a copy).
"""

import keras
import numpy as np
import tensorflow as tf

from mtl_keras.diagnostics import _batches


class AffinityProbe:
    """The compiled lookahead measurement of one model: `probe(x, y, w, lr)` → `Z` `[k, k]` and validity.

    Args:
        model: a built `MultiTaskModel` with shared parameters.
        tasks: the task names to measure (all by default).
    """

    def __init__(self, model, tasks=None):
        self.model = model
        self.task_names = list(tasks) if tasks is not None else list(model.task_names)
        self.indices = _batches.check_tasks(model, self.task_names)
        self.variables = _batches.shared_variables(model)
        self._function = tf.function(self._measure, reduce_retracing=True)

    def __call__(self, x, y, sample_weight, learning_rate):
        matrix, valid = self._function(x, y, sample_weight, tf.constant(learning_rate, tf.float32))
        return matrix.numpy(), valid.numpy()

    def _losses(self, x, y, w):
        losses, counts = _batches.task_losses(self.model, x, y, w)
        return [losses[i] for i in self.indices], tf.stack([counts[i] for i in self.indices])

    def _measure(self, x, y, w, learning_rate):
        variables = self.variables
        with tf.GradientTape(persistent=True) as tape:
            losses, counts = self._losses(x, y, w)
        grads = []
        for loss in losses:  # the tape recorded each task's scalar loss: start each pass from it
            row = tape.gradient(loss, variables)
            grads.append([tf.zeros(tuple(v.shape), v.dtype) if g is None else g for g, v in zip(row, variables)])
        del tape
        before = tf.stack(losses)
        saved = [tf.identity(v.value) for v in variables]
        rows = []
        for k in range(len(self.indices)):
            for v, start, g in zip(variables, saved, grads[k]):
                v.assign(start - tf.cast(learning_rate, v.dtype) * g)
            after = tf.stack(self._losses(x, y, w)[0])
            rows.append(1.0 - tf.math.divide_no_nan(after, before))
            for v, start in zip(variables, saved):
                v.assign(start)
        has_data = (counts > 0) & (before > 0)
        valid = has_data[:, None] & has_data[None, :]
        return tf.stack(rows), valid


def task_affinity(model, data, learning_rate=0.01, steps=1, tasks=None, batch_size=64, seed=0):
    """The inter-task affinity matrix `Z` at the model's current parameters, averaged over `steps` batches.

    `Z[i, j] = Z_{i→j} = 1 − L_j(θ_sh − η g_i) / L_j(θ_sh)`: row `i` is the task that takes the
    lookahead step, column `j` the task whose loss is measured. To average over training, use the
    `TaskAffinity` callback.

    Args:
        model: a built `MultiTaskModel` with shared parameters.
        data: a `mtl_keras.data` stream, a `tf.data.Dataset` of batches `(x, {task: y})`, or arrays
            `(x, {task: y})` (batched by `batch_size`).
        learning_rate: the lookahead step size `η` (plain SGD).
        steps: batches to average over.
        tasks: the task names to measure (all by default).
        batch_size: batch size for arrays.
        seed: shuffling seed for arrays.

    Returns:
        A float `[k, k]` numpy array, `k` the number of tasks (NaN where no batch had labels for both tasks).

    Example:

    >>> z = mk.diagnostics.task_affinity(model, (x, {"a": ya, "b": yb}), learning_rate=0.1, steps=5)
    >>> z.shape
    (2, 2)
    """
    _batches.check_every(steps, "steps", "batches to average over")
    _check_learning_rate(learning_rate)
    probe = AffinityProbe(model, tasks)
    iterator = _batches.batch_iterator(data, batch_size, seed, model=model)
    total, count = None, None
    for _ in range(steps):
        matrix, valid = probe(*_batches.unpack(next(iterator)), learning_rate)
        total = np.where(valid, matrix, 0.0) + (0.0 if total is None else total)
        count = valid.astype("int64") + (0 if count is None else count)
    return _average(total, count)


class TaskAffinity(keras.callbacks.Callback):
    """Measures inter-task affinity during `fit`, every `every` steps, and averages it (TAG).

    At every measurement the callback takes the next batch of `data` and computes, for every
    pair of tasks, `Z_{i→j} = 1 − L_j(θ_sh − η g_i) / L_j(θ_sh)` (see `task_affinity`); the
    model's parameters are restored exactly afterwards, so training is unchanged. After `fit`,
    `callback.matrix` holds the average over the run (`callback.history` every measurement), and
    `mtl_keras.diagnostics.group_tasks(callback.matrix, ...)` suggests which tasks to train together.

    Measurements happen at the end of each training-function call, one per multiple of `every`
    its steps crossed (each on its own batch): with `steps_per_execution = s > every` (`fit` on a
    `mtl_keras.data` stream runs up to 32 steps per call) the `s / every` measurements of a call
    share the parameters at its end, so the average still holds one measurement per `every` steps.

    Args:
        data: batches to measure on: a `mtl_keras.data` stream (e.g. the training stream; it is
            read in order, its training position is not touched), a `tf.data.Dataset` of batches
            `(x, {task: y})`, or arrays `(x, {task: y})`.
        every: steps between measurements (> 0). Defaults to 10.
        learning_rate: the lookahead step size `η` (plain SGD on the shared parameters). Defaults
            to the model optimizer's learning rate at each measurement.
        tasks: the task names to measure (all by default).
        batch_size: batch size when `data` is arrays.

    Example:

    >>> affinity = mk.diagnostics.TaskAffinity(train, every=10)
    >>> model.fit(train, epochs=5, callbacks=[affinity])
    >>> affinity.matrix            # Z[i, j]: effect of a step on task i on task j's loss
    >>> mk.diagnostics.group_tasks(affinity.matrix, num_groups=2, task_names=affinity.task_names)

    Reference: Fifty, Amid, Zhao, Yu, Anil, Finn. Efficiently Identifying Task Groupings for
    Multi-Task Learning. NeurIPS 2021.
    """

    def __init__(self, data, every=10, learning_rate=None, tasks=None, batch_size=64):
        super().__init__()
        self.every = _batches.check_every(every)
        if learning_rate is not None:
            _check_learning_rate(learning_rate)
        _batches.check_data(data, batch_size)
        self.learning_rate = learning_rate
        self.data = data
        self.tasks = None if tasks is None else list(tasks)
        self.batch_size = batch_size
        self.history = []
        self.steps = []
        self._probe = None
        self._iterator = None
        self._total = self._count = None

    @property
    def task_names(self):
        """The measured tasks, in the order of the matrix's rows and columns."""
        return self._probe.task_names if self._probe is not None else self.tasks

    @property
    def matrix(self):
        """The affinity matrix `Z` averaged over every measurement so far (`None` before the first)."""
        if self._total is None:
            return None
        return _average(self._total, self._count)

    def on_train_begin(self, logs=None):
        if self._probe is None or self._probe.model is not self.model:
            self._probe = AffinityProbe(self.model, self.tasks)
            self._iterator = _batches.batch_iterator(self.data, self.batch_size, model=self.model)
        self._last = int(self.model.optimizer.iterations.numpy())

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        for _ in range(step // self.every - self._last // self.every):
            self.measure(step)
        self._last = step

    def measure(self, step=None):
        """Takes one measurement now, on the next batch of `data`; returns its matrix."""
        rate = self.learning_rate
        if rate is None:
            rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        matrix, valid = self._probe(*_batches.unpack(next(self._iterator)), rate)
        matrix = np.where(valid, matrix, np.nan)
        self.history.append(matrix)
        self.steps.append(step)
        ok = ~np.isnan(matrix)
        self._total = np.where(ok, matrix, 0.0) + (0.0 if self._total is None else self._total)
        self._count = ok.astype("int64") + (0 if self._count is None else self._count)
        return matrix


def _average(total, count):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _check_learning_rate(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"`learning_rate` must be a finite number > 0. Received: learning_rate={value!r}")

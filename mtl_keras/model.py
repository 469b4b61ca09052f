"""`MultiTaskModel`: a Keras model whose training step follows the multi-task recipe."""

import keras
import numpy as np
import tensorflow as tf
from keras.src import backend as keras_backend
from keras.src.trainers.data_adapters import data_adapter_utils

from mtl_keras import samplers as samplers_module
from mtl_keras import task_gradients
from mtl_keras import weighting as weighting_module
from mtl_keras.callbacks import SyncDataPosition, TerminateOnNaNTask
from mtl_keras.layers.base import TaskAwareLayer
from mtl_keras.layers.heads import TaskHeads
from mtl_keras.metrics import ObjectiveMean, TaskMetrics, TaskWeightsMean
from mtl_keras.task import Task, as_tasks


@keras.saving.register_keras_serializable(package="mtl_keras")
class MultiTaskModel(keras.Model):
    """A Keras model for several tasks, trained by sampling tasks at every step.

    The model is a `body` (the shared or task-aware layers `θ_sh`) and one head per task
    (`θ_i`). Each training step follows the recipe of the notes:

    1. sample a mini-batch of tasks `B ~ {T_i}` with the `sampler` (uniform by default,
       `tasks_per_step` of them, all tasks by default), reproducibly from `(seed, step)`;
    2. take a mini-batch of data `D_i^b` for every task (the data stream yields one per task,
       whatever the data-set sizes);
    3. compute `Σ_{i∈B} ω_i L_i(θ, D_i^b)` (the weights come from the compiled weighting
       strategy, fixed `Task.weight` by default), plus any regularisation penalty;
    4. back-propagate;
    5. apply the compiled Keras optimizer (Adam by default). Parameters of tasks that are not
       sampled do not move: when `tasks_per_step < T` each task's own parameters have their own
       optimizer slots (a copy of the compiled optimizer) and are updated only when sampled.

    Inputs come in two modes. *Multi-input*: a dict `{task_name: x_i}` with one batch per task
    (tasks may have data sets of different sizes); each task's batch goes through the body and
    its own head. *Shared-input*: one input `x` (a tensor or a dict of features not keyed by task)
    with a label per task, e.g. several attributes of one image; the body runs once.

    `predict` returns a dict by task name, in the tasks' natural units: class probabilities
    (classification), sigmoid probabilities (binary), values in the labels' original units
    (regression, also with `label_scaling`). Logs hold `loss`, `<task>_loss` and
    `<task>_<metric>` for every task (plus `<task>_weight` for adaptive weightings and
    `<layer>_penalty` for penalised layers).

    Args:
        tasks: list of `mtl_keras.Task`.
        body: the shared network: `None` (heads on the inputs), any Keras layer or model (fully
            shared trunk: hard parameter sharing), or a `mtl_keras.layers.TaskAwareLayer` whose
            output depends on the task.
        heads: a `TaskAwareLayer` producing each task's raw output. Defaults to linear
            `TaskHeads` sized from the tasks.
        sampler: task sampler: a name (`"uniform"`, `"proportional"`, `"annealed"`) or a
            `mtl_keras.samplers.TaskSampler`.
        tasks_per_step: how many distinct tasks each step trains. Defaults to all tasks.
        seed: integer seed of the task sampler.
        input_shape: optional input shape (without batch), or a dict of shapes by task for
            multi-input models, to build the model at construction.
        **kwargs: forwarded to `keras.Model` (e.g. `name`).

    Example:

    >>> tasks = [mk.Task("digit", num_classes=10), mk.Task("size", kind="regression")]
    >>> body = keras.Sequential([keras.layers.Dense(64, activation="relu")])
    >>> model = mk.MultiTaskModel(tasks, body=body, input_shape=(16,))
    >>> model.compile(optimizer="adam")
    >>> model.fit(mk.data.multitask_dataset({...}, batch_size=32), epochs=2)
    >>> model.predict(x)["digit"].shape
    (n, 10)
    """

    def __init__(
        self,
        tasks,
        body=None,
        heads=None,
        sampler="uniform",
        tasks_per_step=None,
        seed=0,
        input_shape=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.tasks = as_tasks(tasks)
        self.task_names = [t.name for t in self.tasks]
        num_tasks = len(self.tasks)
        self.body = body
        self.heads = heads if heads is not None else TaskHeads([t.output_units for t in self.tasks], name="heads")
        for part, label in ((self.body, "body"), (self.heads, "heads")):
            if isinstance(part, TaskAwareLayer) and part.num_tasks != num_tasks:
                raise ValueError(
                    f"The {label} was made for {part.num_tasks} tasks but the model has {num_tasks}: "
                    f"{self.task_names}."
                )
        if not isinstance(self.heads, TaskAwareLayer):
            raise ValueError(f"heads must be a mtl_keras.layers.TaskAwareLayer. Received: heads={heads!r}")
        if tasks_per_step is None:
            tasks_per_step = num_tasks
        if int(tasks_per_step) != tasks_per_step or not 1 <= tasks_per_step <= num_tasks:
            raise ValueError(
                f"tasks_per_step must be an integer between 1 and the number of tasks ({num_tasks}). "
                f"Received: tasks_per_step={tasks_per_step}"
            )
        self.tasks_per_step = int(tasks_per_step)
        self.sampler = samplers_module.get(sampler)
        self.sampler.configure(self.task_names)
        self.seed = int(seed)
        self.weighting = None
        self.task_optimizers = []
        self._label_stats = {}
        self._input_shape_arg = input_shape
        if input_shape is not None:
            self.build(_normalise_shape(input_shape))

    # ------------------------------------------------------------------ building
    def _lock_state(self):
        # compile() attaches the weighting strategy (a layer that may own variables) and the
        # per-task trackers, also after the model is built (e.g. when loading a .keras file).
        pass

    def build(self, input_shape):
        input_shape = _normalise_shape(input_shape)
        for task in self.tasks:
            if task.label_scaling and task.name not in self._label_stats:
                units = task.output_units
                self._label_stats[task.name] = (
                    self.add_weight(shape=(units,), initializer="zeros", trainable=False, name=f"{task.name}_label_mean"),
                    self.add_weight(shape=(units,), initializer="ones", trainable=False, name=f"{task.name}_label_std"),
                )
        if not hasattr(self, "_label_scaling_adapted"):
            self._label_scaling_adapted = self.add_weight(
                shape=(), initializer="zeros", trainable=False, dtype="int32", name="label_scaling_adapted"
            )
        if isinstance(input_shape, dict) and self.is_per_task_input(input_shape):
            spec = {k: keras.KerasTensor(s) for k, s in input_shape.items()}
        else:
            spec = keras.tree.map_shape_structure(lambda s: keras.KerasTensor(s), input_shape)
        keras_backend.compute_output_spec(self._raw_outputs, spec, training=False)
        self._penalty_layers = [
            layer for layer in self._flatten_layers(include_self=False) if isinstance(layer, TaskAwareLayer) and layer.has_penalty
        ]
        self._penalty_trackers = [keras.metrics.Mean(name=f"{layer.name}_penalty") for layer in self._penalty_layers]
        self.built = True

    def is_per_task_input(self, inputs):
        """Whether `inputs` (tensors, specs or shapes) is a dict keyed by task names: multi-input mode.

        A dict whose keys are all task names holds one input per task; any other structure is one
        shared input. Raises a `ValueError` for a dict that mixes task names with other keys.
        """
        if not isinstance(inputs, dict) or not inputs:
            return False
        keys = set(inputs)
        names = set(self.task_names)
        if keys <= names:
            return True
        if keys & names:
            raise ValueError(
                f"Received inputs for tasks the model does not have: {sorted(keys - names)}. "
                f"Model tasks: {self.task_names}"
            )
        return False

    # ------------------------------------------------------------------ forward
    def _features(self, x, task_index, training):
        if self.body is None:
            return x
        if isinstance(self.body, TaskAwareLayer):
            return self.body(x, task_index=task_index, training=training)
        return self.body(x, training=training)

    def _raw_outputs(self, inputs, training=False):
        """Raw head outputs (logits / standardized values) as a dict by task name."""
        if self.is_per_task_input(inputs):
            outputs = {}
            for i, name in enumerate(self.task_names):
                if name in inputs:
                    h = self._features(inputs[name], i, training)
                    outputs[name] = self.heads(h, task_index=i, training=training)
            return outputs
        features = self._features(inputs, None, training)
        return dict(zip(self.task_names, self.heads(features, training=training)))

    def finalize_output(self, task, raw):
        """Maps a task's raw head output to probabilities or original units."""
        if task.kind == "classification":
            return keras.ops.softmax(raw, axis=-1)
        if task.kind == "binary":
            return keras.ops.sigmoid(raw)
        if task.name in self._label_stats:
            mean, std = self._label_stats[task.name]
            return raw * keras.ops.cast(std, raw.dtype) + keras.ops.cast(mean, raw.dtype)
        return raw

    def call(self, inputs, training=None, raw=False):
        outputs = self._raw_outputs(inputs, training=training)
        if raw:
            return outputs
        by_name = {t.name: t for t in self.tasks}
        return {name: self.finalize_output(by_name[name], out) for name, out in outputs.items()}

    # ------------------------------------------------------------------ variables
    def task_variables(self, task):
        """Trainable variables that belong to one task (its head and its part of the body)."""
        index = self.task_names.index(task) if isinstance(task, str) else int(task)
        variables = list(self.heads.task_variables(index))
        if isinstance(self.body, TaskAwareLayer):
            variables += self.body.task_variables(index)
        return [v for v in variables if v.trainable]

    @property
    def shared_variables(self):
        """Trainable variables shared by the tasks (`θ_sh`): all but the tasks' own and the strategy's."""
        owned = {id(v) for i in range(len(self.tasks)) for v in self.task_variables(i)}
        owned |= {id(v) for v in self._strategy_variables()}
        return [v for v in self.trainable_variables if id(v) not in owned]

    def _strategy_variables(self):
        return list(self.weighting.trainable_variables) if self.weighting is not None else []

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer="adam", weighting=None, loss=None, metrics=None, **kwargs):
        """Configures training.

        Args:
            optimizer: any Keras optimizer or its name. Defaults to `"adam"`.
            weighting: the task-weighting strategy: a registered name (`"static"`, the default,
                uses each `Task.weight`) or a `mtl_keras.weighting.Weighting`.
            loss, metrics: not used: each `Task` carries its loss and metrics. Passing them raises.
            **kwargs: forwarded to `keras.Model.compile` (`jit_compile`, `steps_per_execution`,
                `run_eagerly`, ...).
        """
        if loss is not None or metrics is not None:
            raise ValueError(
                "MultiTaskModel takes its losses and metrics from its Tasks "
                "(Task(loss=..., metrics=...)); do not pass loss or metrics to compile(). "
                f"Received: loss={loss!r}, metrics={metrics!r}"
            )
        super().compile(optimizer=optimizer, **kwargs)
        self.weighting = weighting_module.get(weighting)
        self.weighting.configure(self.tasks)
        self._compile_kwargs = dict(kwargs)
        self._loss_tracker = ObjectiveMean([t.weight for t in self.tasks], name="loss")
        self._task_loss_fns = [t.build_loss() for t in self.tasks]
        self._task_loss_trackers = [keras.metrics.Mean(name=f"{t.name}_loss") for t in self.tasks]
        for tracker in self._task_loss_trackers:
            tracker._direction = "down"  # lets callbacks' mode="auto" minimise <task>_loss
        self._task_metrics = [t.build_metrics() for t in self.tasks]
        self._weights_tracker = TaskWeightsMean(self.task_names) if self.weighting.adaptive else None
        if self.tasks_per_step < len(self.tasks):
            self.task_optimizers = [
                self.optimizer.__class__.from_config(self.optimizer.get_config()) for _ in self.tasks
            ]
        else:
            self.task_optimizers = []
        if self.built:
            self._build_optimizers()

    def _build_optimizers(self):
        if not self.weighting.built:
            self.weighting.build(None)
        if self.task_optimizers:
            task_ids = set()
            for i, opt in enumerate(self.task_optimizers):
                variables = self.task_variables(i)
                task_ids |= {id(v) for v in variables}
                opt.build(variables)
            self.optimizer.build([v for v in self.trainable_variables if id(v) not in task_ids])
        else:
            self.optimizer.build(self.trainable_variables)

    def get_compile_config(self):
        if not self.compiled:
            return {}
        return {
            "optimizer": keras.saving.serialize_keras_object(self.optimizer),
            "weighting": keras.saving.serialize_keras_object(self.weighting),
            **self._compile_kwargs,
        }

    def compile_from_config(self, config):
        config = dict(config)
        optimizer = keras.saving.deserialize_keras_object(config.pop("optimizer"))
        weighting = keras.saving.deserialize_keras_object(config.pop("weighting"))
        self.compile(optimizer=optimizer, weighting=weighting, **config)

    @property
    def metrics(self):
        if not self.compiled:
            return []
        tracked = []
        for loss_tracker, task_metrics in zip(self._task_loss_trackers, self._task_metrics):
            tracked.append(loss_tracker)
            tracked.extend(task_metrics)
        tracked.extend(getattr(self, "_penalty_trackers", []))
        weights = [self._weights_tracker] if self._weights_tracker is not None else []
        return [self._loss_tracker, TaskMetrics(tracked, name="task_metrics")] + weights

    # ------------------------------------------------------------------ losses
    def _prepare_labels(self, task, y, raw, sample_weight=None):
        """Returns `(labels for the loss, labels for metrics, mask)` for one task.

        The mask is 0 for examples with a missing label (`Task.missing_label`) or a zero sample
        weight; their labels are replaced by 0 so that NaN or out-of-range placeholders never
        reach a loss or metric.
        """
        batch = tf.shape(raw)[0]
        y = tf.convert_to_tensor(y)
        mask = tf.ones([batch], tf.float32)
        if sample_weight is not None:
            mask = mask * tf.reshape(tf.cast(sample_weight, tf.float32), [-1])
        if task.missing_label is not None:
            if task.missing_label == "nan":
                missing = tf.math.is_nan(tf.cast(y, tf.float32))
            else:
                missing = tf.equal(tf.cast(y, tf.float32), float(task.missing_label))
            missing = tf.reduce_any(tf.reshape(missing, [batch, -1]), axis=-1)
            mask = mask * tf.cast(tf.logical_not(missing), tf.float32)
        if sample_weight is not None or task.missing_label is not None:
            keep = tf.reshape(mask > 0, tf.concat([[batch], tf.ones([tf.rank(y) - 1], tf.int32)], axis=0))
            y = tf.where(keep, y, tf.zeros_like(y))
        if task.kind == "classification":
            y = tf.reshape(tf.cast(y, "int32"), [batch])
            return y, y, mask
        y = tf.reshape(tf.cast(y, raw.dtype), tf.shape(raw))
        y_loss = y
        if task.name in self._label_stats:
            mean, std = self._label_stats[task.name]
            y_loss = (y - tf.cast(mean, raw.dtype)) / tf.cast(std, raw.dtype)
        return y_loss, y, mask

    def _task_losses(self, y, raw, sample_weight, sampled=None, training=True):
        """Per-task losses `[T]` (scaled for distribution), log values, label/mask info, and the losses as a list.

        The list holds the scalar loss tensors before stacking: differentiating one of them goes
        through that task's head only (see `mtl_keras.task_gradients`).
        """
        if not isinstance(y, dict):
            raise ValueError(
                "MultiTaskModel expects labels as a dict {task_name: labels}. "
                f"Received labels of type {type(y).__name__}."
            )
        unknown = sorted(set(y) - set(self.task_names))
        if unknown:
            raise ValueError(f"Received labels for tasks the model does not have: {unknown}. Model tasks: {self.task_names}")
        replica = tf.distribute.get_replica_context()
        num_replicas = replica.num_replicas_in_sync if replica is not None else 1
        losses, logged, counts, prepared = [], [], [], {}
        for i, task in enumerate(self.tasks):
            if task.name not in y or task.name not in raw:
                if training:
                    raise ValueError(f"Task '{task.name}' has no data in this batch; every task needs data to train.")
                losses.append(tf.zeros([]))
                logged.append(tf.zeros([]))
                counts.append(tf.zeros([]))
                continue
            pred = raw[task.name]
            weight = sample_weight.get(task.name) if isinstance(sample_weight, dict) else None
            y_loss, y_metric, mask = self._prepare_labels(task, y[task.name], pred, weight)
            per_example = self._task_loss_fns[i](y_loss, pred)
            per_example = tf.cast(per_example, tf.float32)
            if per_example.shape.rank and per_example.shape.rank > 1:
                per_example = tf.reduce_mean(tf.reshape(per_example, [tf.shape(pred)[0], -1]), axis=-1)
            local_sum = tf.reduce_sum(tf.where(mask > 0, per_example * mask, 0.0))
            local_count = tf.reduce_sum(mask)
            global_count = local_count
            if num_replicas > 1:
                global_count = replica.all_reduce(tf.distribute.ReduceOp.SUM, local_count)
            losses.append(tf.math.divide_no_nan(local_sum, global_count))
            logged.append(tf.math.divide_no_nan(local_sum, local_count))
            counts.append(local_count)
            prepared[task.name] = (y_metric, mask)
        return tf.stack(losses), tf.stack(logged), tf.stack(counts), prepared, losses

    def _penalty(self):
        """Sum of the task-aware layers' penalties (e.g. soft sharing) and their values."""
        values = [layer.penalty() for layer in self._penalty_layers]
        return (tf.add_n(values) if values else tf.zeros([])), values

    # ------------------------------------------------------------------ steps
    def train_step(self, data):
        x, y, sample_weight = data_adapter_utils.unpack_x_y_sample_weight(data)
        step = self.optimizer.iterations
        sampled = self.sampler.sample(step, self.tasks_per_step, self.seed)
        replica = tf.distribute.get_replica_context()
        num_replicas = replica.num_replicas_in_sync if replica is not None else 1
        gradient_level = self.weighting.uses_gradients
        on_representation = gradient_level and self.weighting.uses_representation
        with tf.GradientTape(persistent=gradient_level) as tape:
            if on_representation:
                representation = self._shared_representation(x)
                copies = task_gradients.representation_copies(representation, len(self.tasks), tape)
                # One call on the list of copies (not one per task: a new call would clear the
                # losses that earlier heads added, e.g. activity regularizers).
                raw = dict(zip(self.task_names, self.heads(copies, training=True)))
            else:
                raw = self(x, training=True, raw=True)
            losses, logged, counts, prepared, task_losses = self._task_losses(y, raw, sample_weight, sampled)
            penalty, penalty_values = self._penalty()
            has_extra = bool(self._penalty_layers) or bool(self.losses)
            extra = penalty + (tf.add_n(self.losses) if self.losses else 0.0)
            extra_scaled = extra / num_replicas
            if not gradient_level:
                objective, weights = self.weighting.combine_losses(losses, sampled, step)
                total = self.optimizer.scale_loss(objective + extra_scaled)
        variables = self.trainable_variables
        if gradient_level:
            # With a LossScaleOptimizer the backward passes run on scaled losses, as `scale_loss`
            # does for the weighted sum; the strategies see unscaled gradients.
            scale = tf.cast(self.optimizer.scale_loss(tf.constant(1.0)), tf.float32)
            penalty = extra_scaled if has_extra else None
        if on_representation:
            grads, weights, objective = task_gradients.on_representation(
                self, tape, representation, copies, task_losses, losses, sampled, penalty, step, scale
            )
        elif gradient_level:
            grads, weights, objective = task_gradients.on_parameters(
                self, tape, task_losses, losses, sampled, penalty, step, scale
            )
        else:
            grads = tape.gradient(total, variables)
        del tape
        self._apply(grads, variables, sampled)
        self._update_trackers(objective * num_replicas + extra, logged, counts, sampled, weights, penalty_values, prepared, raw)
        return self._step_logs()

    def _shared_representation(self, x):
        """The body's output `Z` for representation-level gradient methods (shared input, shared body)."""
        if self.is_per_task_input(x) or isinstance(self.body, TaskAwareLayer) or self.body is None:
            raise ValueError(
                f"Weighting '{self.weighting.name}' takes gradients with respect to the shared representation, "
                "which needs one shared input and a fully shared body (a plain Keras layer or model). "
                "Use the parameter-level variant of the strategy for multi-input or task-aware models."
            )
        return self.body(x, training=True)

    def _step_logs(self):
        logs = self.get_metrics_result()
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            # Keras reduces per-step logs across workers with a MEAN over axis 0, which fails on
            # scalars (tensorflow/tensorflow#72388): give each value a leading axis of 1.
            logs = {k: tf.reshape(v, [1]) for k, v in logs.items()}
        return logs

    def _apply(self, grads, variables, sampled):
        """Applies the update; each task's own variables move only when the task is sampled."""
        if not self.task_optimizers:
            self.optimizer.apply(grads, variables)
            return
        by_id = dict(zip((id(v) for v in variables), grads))
        task_ids = set()
        per_task = []
        for i in range(len(self.tasks)):
            task_vars = self.task_variables(i)
            task_ids |= {id(v) for v in task_vars}
            per_task.append(([by_id[id(v)] for v in task_vars], task_vars))
        rest = [(g, v) for g, v in zip(grads, variables) if id(v) not in task_ids]
        self.optimizer.apply([g for g, _ in rest], [v for _, v in rest])
        if tf.distribute.has_strategy() and tf.distribute.in_cross_replica_context() is False:
            # Under a tf.distribute strategy an optimizer's update must not sit inside a `tf.cond`
            # in replica context: reduce the gradients and branch in cross-replica context.
            tf.distribute.get_replica_context().merge_call(
                _apply_task_updates_cross_replica, args=(self.task_optimizers, per_task, sampled)
            )
            return
        for opt, (task_grads, task_vars), flag in zip(self.task_optimizers, per_task, tf.unstack(sampled)):
            _apply_if(opt, task_grads, task_vars, flag)

    def _update_trackers(self, total, logged, counts, sampled, weights, penalty_values, prepared, raw):
        if total is not None:
            self._loss_tracker.update_state(total)
        for i, task in enumerate(self.tasks):
            if task.name not in prepared:
                continue
            self._task_loss_trackers[i].update_state(logged[i], sample_weight=counts[i] * sampled[i])
            y_metric, mask = prepared[task.name]
            pred = self.finalize_output(task, raw[task.name])
            for metric in self._task_metrics[i]:
                metric.update_state(y_metric, pred, sample_weight=mask * sampled[i])
        if self._weights_tracker is not None:
            self._weights_tracker.update_state(weights)
        for tracker, value in zip(self._penalty_trackers, penalty_values):
            tracker.update_state(value)

    def test_step(self, data):
        x, y, sample_weight = data_adapter_utils.unpack_x_y_sample_weight(data)
        raw = self(x, training=False, raw=True)
        losses, logged, counts, prepared, _ = self._task_losses(y, raw, sample_weight, training=False)
        present = tf.constant([1.0 if t.name in prepared else 0.0 for t in self.tasks])
        weights = tf.constant([t.weight for t in self.tasks])
        penalty, penalty_values = self._penalty()
        self._update_trackers(None, logged, counts, present, weights, penalty_values, prepared, raw)
        self._loss_tracker.update_evaluation(logged * counts * present, counts * present, penalty)
        return self._step_logs()

    def predict_step(self, data):
        x, _, _ = data_adapter_utils.unpack_x_y_sample_weight(data)
        return self(x, training=False)

    # ------------------------------------------------------------------ data checks and fit
    def _prepare_dataset(self, data, training):
        """Checks a tf.data stream against the tasks and builds the model from its spec."""
        if not isinstance(data, tf.data.Dataset):
            return
        spec = data.element_spec
        if not isinstance(spec, tuple) or len(spec) < 2:
            raise ValueError(
                "MultiTaskModel expects a data set of (x, y) or (x, y, sample_weight) with y a dict by task. "
                f"Received element_spec={spec}"
            )
        x_spec, y_spec = spec[0], spec[1]
        if not isinstance(y_spec, dict):
            raise ValueError(f"Labels must be a dict {{task_name: labels}}. Received label spec: {y_spec}")
        unknown = sorted(set(y_spec) - set(self.task_names))
        if unknown:
            raise ValueError(f"The data has labels for tasks the model does not have: {unknown}. Model tasks: {self.task_names}")
        if training:
            missing = [t for t in self.task_names if t not in y_spec]
            if missing:
                raise ValueError(f"Model tasks with no data: {missing}. Every task needs data to train.")
        if self.is_per_task_input(x_spec):
            absent = sorted(set(y_spec) - set(x_spec))
            if absent:
                raise ValueError(f"Tasks with labels but no inputs: {absent}.")
        for task in self.tasks:
            if task.name in y_spec:
                _check_label_spec(task, y_spec[task.name])
        if data.cardinality() == 0:
            raise ValueError("The data set is empty (cardinality 0).")
        with self.distribute_strategy.scope():  # variables made here must be mirrored too
            if not self.built:
                if self.is_per_task_input(x_spec):
                    shapes = {k: (None,) + tuple(s.shape)[1:] for k, s in x_spec.items()}
                    for name in self.task_names:
                        shapes.setdefault(name, next(iter(shapes.values())))
                else:
                    shapes = keras.tree.map_structure(lambda s: (None,) + tuple(s.shape)[1:], x_spec)
                self.build(shapes)
            if self.compiled:
                self._build_optimizers()

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras builds a model under a strategy from one (reduced) batch; MultiTaskModel is built
        # from the data's spec in fit(), and reducing a dict batch fails under
        # MultiWorkerMirroredStrategy, so skip it when there is nothing left to build.
        if self.built and self.optimizer is not None and self.optimizer.built:
            return
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def fit(self, x=None, y=None, *args, callbacks=None, terminate_on_nan=True, **kwargs):
        """Trains like `keras.Model.fit`, after checking the data against the tasks.

        A `tf.data.Dataset` of `(x, {task: y})` (see `mtl_keras.data`) is checked (labels for
        every task, shapes and dtypes that fit the heads), the model and optimizer are built from
        its spec, and label scaling statistics are adapted from it if not set yet. With
        `terminate_on_nan=True` (default) training stops on a NaN task loss, naming the task.
        """
        if not self.compiled:
            raise RuntimeError("Call compile() before fit().")
        self._prepare_dataset(x, training=True)
        validation = kwargs.get("validation_data")
        if isinstance(validation, tf.data.Dataset):
            self._prepare_dataset(validation, training=False)
        if isinstance(x, tf.data.Dataset) and self._label_stats and not int(self._label_scaling_adapted.numpy()):
            self.adapt_label_scaling(x)
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)  # the stream shuffles itself (see mtl_keras.data)
        callbacks = list(callbacks or [])
        if terminate_on_nan and not any(isinstance(c, TerminateOnNaNTask) for c in callbacks):
            callbacks.append(TerminateOnNaNTask())
        if hasattr(x, "mtl_position"):
            callbacks.insert(0, SyncDataPosition(x.mtl_position))
        return super().fit(x, y, *args, callbacks=callbacks, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        self._prepare_dataset(x, training=False)
        return super().evaluate(x, y, *args, **kwargs)

    def adapt_label_scaling(self, data, steps=100):
        """Sets the mean and standard deviation of tasks with `label_scaling="standard"`.

        Args:
            data: a dict `{task_name: labels}` of arrays, or a data set of `(x, {task: y}, ...)`
                from which up to `steps` batches are read.
            steps: batches to read from a data set. Defaults to 100.
        """
        if not self.built:
            raise RuntimeError("Build the model (input_shape=..., or fit) before adapting label scaling.")
        collected = {name: [] for name in self._label_stats}
        if isinstance(data, tf.data.Dataset):
            for element in data.take(steps):
                for name in collected:
                    collected[name].append(np.asarray(element[1][name], dtype="float64"))
        else:
            for name in collected:
                if name in data:
                    collected[name].append(np.asarray(data[name], dtype="float64"))
        for task in self.tasks:
            if task.name not in collected or not collected[task.name]:
                continue
            values = np.concatenate([v.reshape(len(v), -1) for v in collected[task.name]], axis=0)
            if task.missing_label is not None:
                values = values[~np.isnan(values).any(axis=1)] if task.missing_label == "nan" else values[~(values == float(task.missing_label)).any(axis=1)]
            if len(values) == 0:
                raise ValueError(f"Task '{task.name}': no labels to adapt label scaling from.")
            std = values.std(axis=0)
            mean, std_var = self._label_stats[task.name]
            mean.assign(values.mean(axis=0).astype("float32"))
            std_var.assign(np.where(std > 0, std, 1.0).astype("float32"))
        self._label_scaling_adapted.assign(1)

    def results_by_task(self, logs, prefix=""):
        """Regroups flat logs (`{"a_loss": .., "a_accuracy": ..}`) into `{task: {metric: value}}`.

        Args:
            logs: a dict of logs, e.g. from `evaluate(..., return_dict=True)` or `History.history`.
            prefix: a prefix of the keys, e.g. `"val_"`.
        """
        if not self.compiled:
            raise RuntimeError("Compile the model first: the metric names come from compile().")
        grouped = {}
        for task, task_metrics in zip(self.tasks, self._task_metrics):
            names = {"loss": f"{task.name}_loss"}
            names.update({m.name[len(task.name) + 1 :]: m.name for m in task_metrics})
            grouped[task.name] = {short: logs[prefix + full] for short, full in names.items() if prefix + full in logs}
        return grouped

    # ------------------------------------------------------------------ config
    def get_config(self):
        config = {
            "tasks": [t.get_config() for t in self.tasks],
            "body": keras.saving.serialize_keras_object(self.body) if self.body is not None else None,
            "heads": keras.saving.serialize_keras_object(self.heads),
            "sampler": keras.saving.serialize_keras_object(self.sampler),
            "tasks_per_step": self.tasks_per_step,
            "seed": self.seed,
            "input_shape": self._input_shape_arg,
            "name": self.name,
        }
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["tasks"] = [Task.from_config(t) for t in config["tasks"]]
        for key in ("body", "heads", "sampler"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


def _apply_if(optimizer, grads, variables, flag):
    def apply():
        optimizer.apply(grads, variables)
        return tf.constant(True)

    tf.cond(flag > 0, apply, lambda: tf.constant(False))


def _apply_task_updates_cross_replica(strategy, optimizers, per_task, sampled):
    """Cross-replica part of `_apply` under a `tf.distribute` strategy.

    `optimizer.apply` cannot run inside a `tf.cond` there (it would `merge_call` from a branch),
    so the gradients are summed over replicas here and the optimizer's own per-variable update
    (Keras's `_distributed_tf_update_step`, the step `apply` itself ends with) runs in the branch.
    """
    flags = strategy.experimental_local_results(sampled)[0]
    for i, (opt, (grads, variables)) in enumerate(zip(optimizers, per_task)):
        reduced = strategy.extended.batch_reduce_to(
            tf.distribute.ReduceOp.SUM, [(g, v.value) for g, v in zip(grads, variables)]
        )

        def apply(opt=opt, reduced=reduced, variables=variables):
            clipped = opt._clip_gradients(reduced)
            opt._apply_weight_decay(variables)
            opt._distributed_tf_update_step(strategy, list(zip(clipped, [v.value for v in variables])), opt.learning_rate)
            opt.iterations.assign_add(1)
            return tf.constant(True)

        tf.cond(flags[i] > 0, apply, lambda: tf.constant(False))


def _normalise_shape(shape):
    if isinstance(shape, dict):
        return {k: _normalise_shape(v) for k, v in shape.items()}
    shape = tuple(shape)
    if not shape or shape[0] is not None:
        shape = (None,) + shape
    return shape


def _check_label_spec(task, spec):
    shape = spec.shape
    dtype = spec.dtype
    if task.kind == "classification":
        if not (dtype.is_integer or dtype.is_floating):
            raise ValueError(f"Task '{task.name}': classification labels must be integer class ids. Received dtype={dtype.name}")
        if shape.rank is not None and (shape.rank > 2 or (shape.rank == 2 and shape[-1] not in (1, None))):
            raise ValueError(
                f"Task '{task.name}': labels must be class ids of shape (batch,) or (batch, 1); "
                f"got shape {tuple(shape)}. (One-hot labels? Pass class ids.)"
            )
        return
    if not (dtype.is_floating or dtype.is_integer or dtype.is_bool):
        raise ValueError(f"Task '{task.name}': labels must be numeric. Received dtype={dtype.name}")
    width = 1 if shape.rank == 1 else (shape[-1] if shape.rank else None)
    if shape.rank is not None and (shape.rank > 2 or (width is not None and width != task.output_units)):
        raise ValueError(
            f"Task '{task.name}': labels of shape {tuple(shape)} do not fit a head of "
            f"{task.output_units} unit(s); expected (batch,) or (batch, {task.output_units})."
        )

"""The TensorFlow training and evaluation steps of a `MultiTaskModel` (the tape and `tf.distribute` live here).

Like Keras's `backend/tensorflow/trainer.py`, this mixin holds what is specific to one backend;
the pieces it calls — the objective, the task-by-task forward pass, the trackers — are not.
"""

import keras
import tensorflow as tf

from mtl_keras import _compat
from mtl_keras.layers.base import TaskAwareLayer
from mtl_keras.training import forward
from mtl_keras.training.tensorflow import gradients


class TensorFlowTrainer:
    """`train_step`, `test_step` and `predict_step` of a `MultiTaskModel` on the TensorFlow backend."""

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        forward.check_tasks_present(self, y, training=True)
        if self.steps_per_execution > 1 and not tf.distribute.has_strategy():
            # A resumed epoch ends with idle (empty) steps when several steps run per call: skip them.
            keras.ops.cond(forward.total_rows(y) > 0, lambda: self.train_on_data(x, y, sample_weight), lambda: None)
        else:
            self.train_on_data(x, y, sample_weight)
        return _step_logs(self)

    def train_on_data(self, x, y, sample_weight):
        """One step of the multi-task recipe on a batch `(x, {task: y}, {task: w})`."""
        step = self.optimizer.iterations
        sampled = _sampled_tasks(self, y, step)                                        # 1. a mini-batch of tasks
        computed = None if self.tasks_per_step == len(self.tasks) else list(tf.unstack(sampled > 0))  # 2. their batches
        weighting = self.weighting
        with tf.GradientTape(persistent=weighting.uses_gradients) as tape:
            features, representation, copies = _features(self, x, tape)
            outputs = forward.run_tasks(
                self, self.objective, features, y, sample_weight, computed, True, self.trackers.update_task
            )
            losses = self.objective.combine(                                           # 3. Σ ω_i L_i (+ penalties)
                [o.loss_sum for o in outputs], [o.count for o in outputs], sampled, weighting.sum_over_replicas
            )
            penalties, extra = _extra_losses(self, outputs)
            share = None if extra is None else extra / _num_replicas()  # replicas' gradients are summed
            if not weighting.uses_gradients:
                objective, weights = weighting.combine_losses(losses.losses, losses.active, step)
                total = self.optimizer.scale_loss(objective if share is None else objective + share)
        variables = self.trainable_variables                                           # 4. back-propagate
        if weighting.uses_gradients:
            grads, weights = _gradient_level(self, tape, losses, representation, copies, share, step, variables)
            objective = keras.ops.sum(weights * losses.active * losses.losses)
        else:
            grads = gradients.gradient(tape, total, variables)
        del tape
        task_variables = [self.task_variables(i) for i in range(len(self.tasks))]
        self.updates.apply(grads, variables, losses.active, task_variables)          # 5. apply the optimizer
        self.trackers.update_objective(objective * _num_replicas() + (0.0 if extra is None else extra), weights)
        self.trackers.update_penalties(penalties)

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        forward.check_tasks_present(self, y, training=False)
        present = [name in y and (not self.is_per_task_input(x) or name in x) for name in self.task_names]
        names = [n for n, p in zip(self.task_names, present) if p]
        if self.is_per_task_input(x):
            raw = self(x, training=False, raw=True)
        else:
            raw = dict(zip(self.task_names, self.heads(self.features(x, None, False), training=False)))
        sums, counts = [], []
        for i, task in enumerate(self.tasks):
            if task.name not in names:
                sums.append(tf.zeros([]))
                counts.append(tf.zeros([]))
                continue
            weights = sample_weight.get(task.name) if isinstance(sample_weight, dict) else None
            total, count, labels, mask = self.objective.task_sum(i, y[task.name], raw[task.name], weights)
            self.trackers.update_task(i, labels, self.finalize_output(task, raw[task.name]), mask, total, count)
            sums.append(total)
            counts.append(count)
        losses = self.objective.combine(sums, counts, tf.constant([float(p) for p in present]))
        penalties = [layer.penalty() for layer in self.penalty_layers]
        self.trackers.update_evaluation(losses, penalties, tf.add_n(penalties) if penalties else tf.zeros([]))
        return _step_logs(self)

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self(x, training=False)


def _sampled_tasks(model, y, step):
    """The tasks trained in this step, float 0/1 `[T]`.

    The model draws `tasks_per_step` tasks from its sampler at `step`. A `mtl_keras.data` stream
    made the same draw and sent batches for the drawn tasks only: when at most `tasks_per_step`
    tasks have examples, the batch itself says which tasks were drawn (so the draw is made once,
    in the input pipeline, and a step compiled with XLA, whose random numbers differ, agrees).
    """
    draw = model.sampler.sample(step, model.tasks_per_step, model.seed)
    if model.tasks_per_step == len(model.tasks):
        return draw
    has_data = tf.cast(tf.stack([forward.rows(y[name]) > 0 for name in model.task_names]), tf.float32)
    return tf.where(tf.reduce_sum(has_data) <= model.tasks_per_step, has_data, draw * has_data)


def _features(model, x, tape):
    """The heads' inputs per task, and (for representation-level weighting) the representation and its copies."""
    per_task = model.is_per_task_input(x)
    if model.weighting.uses_representation:
        if per_task or model.body is None or isinstance(model.body, TaskAwareLayer):
            raise ValueError(
                f"{type(model.weighting).__name__} takes gradients with respect to the shared representation, "
                "which needs one shared input and a fully shared body (a plain Keras layer or model). "
                "Use the parameter-level variant of the strategy for multi-input or task-aware models."
            )
        representation = model.features(x, None, training=True)
        copies = gradients.representation_copies(representation, len(model.tasks), tape)
        return copies, representation, copies
    if per_task:
        missing = [name for name in model.task_names if name not in x]
        if missing:
            raise ValueError(f"Tasks with labels but no inputs in the batch: {missing}.")
        return [lambda i=i, name=name: model.features(x[name], i, training=True) for i, name in enumerate(model.task_names)], None, None
    shared = model.features(x, None, training=True)
    return (list(shared) if isinstance(model.body, TaskAwareLayer) else [shared] * len(model.tasks)), None, None


def _extra_losses(model, outputs):
    """The penalised layers' values, and the step's extra loss (penalties + layer losses, this replica's) or `None`."""
    penalties = [layer.penalty() for layer in model.penalty_layers]
    terms = penalties + _compat.take_call_losses([model]) + list(model.losses)
    terms += [o.call_loss for o in outputs if o.call_loss is not None]
    return penalties, (tf.add_n([tf.cast(t, tf.float32) for t in terms]) if terms else None)


def _gradient_level(model, tape, losses, representation, copies, penalty, step, variables):
    """Gradients of every variable in `variables` with the shared part combined by the strategy."""
    scale = tf.cast(model.optimizer.scale_loss(tf.constant(1.0)), tf.float32)
    if representation is not None:
        body_ids = {id(v) for v in model.body.trainable_variables}
        trunk = [v for v in model.shared_variables if id(v) in body_ids]
        others = [v for v in variables if id(v) not in {id(t) for t in trunk}]
        first, second, weights = gradients.on_representation(
            tape, representation, copies, losses, trunk, others, model.weighting, penalty, step, scale
        )
        by_id = dict(zip([id(v) for v in trunk + others], first + second))
    else:
        shared = model.shared_variables
        others = [v for v in variables if id(v) not in {id(s) for s in shared}]
        first, second, weights = gradients.on_parameters(tape, losses, shared, others, model.weighting, penalty, step, scale)
        by_id = dict(zip([id(v) for v in shared + others], first + second))
    return [by_id[id(v)] for v in variables], tf.stop_gradient(tf.cast(weights, tf.float32))


def _num_replicas():
    replica = tf.distribute.get_replica_context()
    return replica.num_replicas_in_sync if replica is not None else 1


def _step_logs(model):
    logs = model.get_metrics_result()
    if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
        # Keras reduces per-step logs across workers with a MEAN over axis 0, which fails on
        # scalars (tensorflow/tensorflow#72388): give each value a leading axis of 1.
        logs = {k: tf.reshape(v, [1]) for k, v in logs.items()}
    return logs

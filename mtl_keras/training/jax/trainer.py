"""The JAX training, evaluation and prediction steps of a `MultiTaskModel` (stateless, jit-compiled by Keras).

Keras's JAX trainer calls `train_step(state, data)` with the model's state as lists of values,
`(trainable, non-trainable, optimizer, metrics)`, and takes `(logs, new state)` back. This mixin
runs the same multi-task recipe as the TensorFlow trainer — and the same backend-neutral pieces:
the objective, the task-by-task forward pass, the trackers — inside a `keras.StatelessScope`
holding that state, with `jax.value_and_grad` in place of the tape.

Which tasks a step computes: the batch's shapes are known when JAX traces the step, so when a
`mtl_keras.data` stream sent batches for the sampled tasks only, the other tasks are left out of
the traced step altogether. When every task has examples but only some are drawn (arrays given
to `fit`), the draw is the sampler's own (the same as on TensorFlow, made on the host) and each
task runs inside a `jax.lax.cond` that skips it, forward and backward.
"""

import jax
import keras
import numpy as np
from keras import ops

from mtl_keras import _compat
from mtl_keras.layers.base import TaskAwareLayer
from mtl_keras.training import forward
from mtl_keras.training.jax import gradients
from mtl_keras.training.jax.state import current_values, stateful_cond


class JaxTrainer(_compat.JaxStateHooks):
    """`train_step`, `test_step` and `predict_step` of a `MultiTaskModel` on the JAX backend."""

    @property
    def optimizer_state_variables(self):
        """The optimizer part of the training state: the compiled optimizer's variables, then the per-task copies'."""
        updates = getattr(self, "updates", None)
        if updates is not None:
            return updates.variables
        optimizer = getattr(self, "optimizer", None)
        return list(optimizer.variables) if optimizer is not None else []

    # ------------------------------------------------------------------ training
    def train_step(self, state, data):
        trainable, non_trainable, optimizer_values, metric_values = state
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        forward.check_tasks_present(self, y, training=True)
        if forward.total_rows(y) == 0:  # an idle step at the end of a resumed epoch
            return self._logs(metric_values), state
        variables = self.trainable_variables
        held = list(self.non_trainable_variables) + list(self.metrics_variables)
        optimizer_variables = self.optimizer_state_variables
        step = _value_of(self.optimizer.iterations, optimizer_variables, optimizer_values)
        sampled, computed = _sampled_tasks(self, y, step)                               # 1. a mini-batch of tasks

        weighting = self.weighting

        def forward_pass(trainable_values):
            """The step's forward pass on `trainable_values`: `((task losses [T], extra loss), aux)`."""
            mapping = _mapping((variables, trainable_values), (held, list(non_trainable) + list(metric_values)))
            mapping += list(zip(optimizer_variables, optimizer_values))
            with keras.StatelessScope(state_mapping=mapping, collect_losses=True) as scope:
                branch_losses = []

                def cond(predicate, true_fn, false_fn):
                    return stateful_cond(scope, predicate, true_fn, false_fn, held, branch_losses)

                outputs = forward.run_tasks(                                            # 2. the sampled tasks' batches
                    self, self.objective, _features(self, x), y, sample_weight, computed, True, self.trackers.update_task, cond
                )
                losses = self.objective.combine([o.loss_sum for o in outputs], [o.count for o in outputs], sampled)
                penalties = [layer.penalty() for layer in self.penalty_layers]
                terms = [ops.cast(t, "float32") for t in penalties + list(self.losses) + branch_losses]
                extra = sum(terms) if terms else ops.zeros((), "float32")
                combined = None
                if not weighting.uses_gradients:                                        # 3. Σ ω_i L_i (+ penalties)
                    combined = weighting.combine_losses(losses.losses, losses.active, step)
            return (ops.stack(losses.task_losses), extra), (current_values(scope, held), losses, penalties, combined)

        if weighting.uses_gradients:                                                    # 4. back-propagate
            (_, extra), backward, (held_values, losses, penalties, _) = jax.vjp(forward_pass, list(trainable), has_aux=True)
            shared = {id(v) for v in self.shared_variables}
            grads, weights = gradients.on_parameters(backward, losses, [id(v) in shared for v in variables], weighting, step)
            objective = ops.sum(weights * losses.active * losses.losses)
        else:

            def total_of(trainable_values):
                (_, extra), aux = forward_pass(trainable_values)
                objective, _ = aux[3]
                return objective + extra, (aux, extra)

            (_, (aux, extra)), grads = jax.value_and_grad(total_of, has_aux=True)(list(trainable))
            held_values, losses, penalties, (objective, weights) = aux
        active = losses.active
        mapping = _mapping((variables, trainable), (held, held_values), (optimizer_variables, optimizer_values))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            trained = [False if computed is not None and computed[i] is False else active[i] > 0 for i in range(len(self.tasks))]
            task_variables = [self.task_variables(i) for i in range(len(self.tasks))]
            self.updates.apply(scope, grads, variables, trained, task_variables)            # 5. apply the optimizer
            self.trackers.update_objective(objective + extra, ops.cast(weights, "float32"))
            self.trackers.update_penalties(penalties)
            logs = self.get_metrics_result()
        held_values = current_values(scope, held)
        non_trainable_count = len(self.non_trainable_variables)
        state = (
            current_values(scope, variables),
            held_values[:non_trainable_count],
            current_values(scope, optimizer_variables),
            held_values[non_trainable_count:],
        )
        return logs, state

    # ------------------------------------------------------------------ evaluation
    def test_step(self, state, data):
        trainable, non_trainable, metric_values = state
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        forward.check_tasks_present(self, y, training=False)
        per_task = self.is_per_task_input(x)
        present = [name in y and (not per_task or name in x) for name in self.task_names]
        mapping = _mapping(
            (self.trainable_variables, trainable),
            (self.non_trainable_variables, non_trainable),
            (self.metrics_variables, metric_values),
        )
        with keras.StatelessScope(state_mapping=mapping, collect_losses=True) as scope:
            if per_task:
                raw = self(x, training=False, raw=True)
            else:
                raw = dict(zip(self.task_names, self.heads(self.features(x, None, False), training=False)))
            sums, counts = [], []
            for i, task in enumerate(self.tasks):
                if not present[i]:
                    sums.append(ops.zeros(()))
                    counts.append(ops.zeros(()))
                    continue
                weights = sample_weight.get(task.name) if isinstance(sample_weight, dict) else None
                total, count, labels, mask = self.objective.task_sum(i, y[task.name], raw[task.name], weights)
                self.trackers.update_task(i, labels, self.finalize_output(task, raw[task.name]), mask, total, count)
                sums.append(total)
                counts.append(count)
            losses = self.objective.combine(sums, counts, ops.convert_to_tensor([float(p) for p in present]))
            penalties = [layer.penalty() for layer in self.penalty_layers]
            penalty_total = sum(ops.cast(p, "float32") for p in penalties) if penalties else ops.zeros(())
            self.trackers.update_evaluation(losses, penalties, penalty_total)
            logs = self.get_metrics_result()
        state = (
            list(trainable),
            current_values(scope, self.non_trainable_variables),
            current_values(scope, self.metrics_variables),
        )
        return logs, state

    # ------------------------------------------------------------------ prediction
    def predict_step(self, state, data):
        trainable, non_trainable = state
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        mapping = _mapping((self.trainable_variables, trainable), (self.non_trainable_variables, non_trainable))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            outputs = self(x, training=False)
        return outputs, current_values(scope, self.non_trainable_variables)

    def _logs(self, metric_values):
        with keras.StatelessScope(state_mapping=list(zip(self.metrics_variables, metric_values))):
            return self.get_metrics_result()


def _mapping(*pairs):
    """A `StatelessScope` mapping from `(variables, values)` pairs."""
    return [(variable, value) for variables, values in pairs for variable, value in zip(variables, values)]


def _value_of(variable, variables, values):
    """The value that `values` holds for `variable` (found by identity in `variables`)."""
    for candidate, value in zip(variables, values):
        if candidate is variable:
            return value
    raise ValueError(f"Variable {variable.path} is not part of the training state.")


def _sampled_tasks(model, y, step):
    """`(sampled, computed)`: the tasks trained in this step (float 0/1 `[T]`) and which to compute.

    `computed` is `None` (compute every task) or per task a Python bool, when the batch's shapes
    already say it (a `mtl_keras.data` stream sends examples for the sampled tasks only), or a
    traced boolean from the sampler's draw at `step`, made on the host with the sampler's own
    (TensorFlow) random numbers, so that both backends draw the same tasks.
    """
    num_tasks, k = len(model.tasks), model.tasks_per_step
    if k == num_tasks:
        return ops.ones((num_tasks,), "float32"), None
    has_data = [int(forward.rows(y[name])) > 0 for name in model.task_names]
    present = ops.convert_to_tensor([float(h) for h in has_data], "float32")
    if sum(has_data) <= k:
        return present, has_data

    def draw(at):
        return np.asarray(model.sampler.sample(int(at), k, model.seed), np.float32)

    drawn = jax.pure_callback(draw, jax.ShapeDtypeStruct((num_tasks,), np.float32), step)
    sampled = drawn * present
    return sampled, [sampled[i] > 0 if h else False for i, h in enumerate(has_data)]


def _features(model, x):
    """The heads' inputs per task: a callable per task in multi-input mode (the body runs inside the task's conditional)."""
    if model.weighting.uses_representation:
        raise ValueError("Representation-level weighting is not available on the JAX backend.")
    if model.is_per_task_input(x):
        missing = [name for name in model.task_names if name not in x]
        if missing:
            raise ValueError(f"Tasks with labels but no inputs in the batch: {missing}.")
        return [lambda i=i, name=name: model.features(x[name], i, training=True) for i, name in enumerate(model.task_names)]
    shared = model.features(x, None, training=True)
    return list(shared) if isinstance(model.body, TaskAwareLayer) else [shared] * len(model.tasks)

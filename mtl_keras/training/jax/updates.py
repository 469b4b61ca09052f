"""`SampledUpdates` on JAX: a step's optimizer update, leaving the tasks not trained in it exactly as they were."""

from mtl_keras.training.jax.state import stateful_cond


class SampledUpdates:
    """Applies the compiled optimizer, with a copy of it for each task's own variables when tasks are sampled.

    The JAX counterpart of `mtl_keras.training.tensorflow.updates.SampledUpdates` (same
    behaviour, same saved state): when a step trains only some tasks (`tasks_per_step < T`), each
    task's own variables have their own copy of the optimizer (slots and step count), applied
    only when the task is trained; the shared variables use the compiled optimizer at every step.
    On JAX the update runs inside the step's `keras.StatelessScope`: the per-task copies'
    variables travel in the training state with the compiled optimizer's (`variables`).

    Args:
        optimizer: the compiled Keras optimizer.
        num_tasks: the number of tasks `T`.
        sampled: whether tasks are sampled (`tasks_per_step < T`): per-task optimizer copies.
    """

    def __init__(self, optimizer, num_tasks, sampled):
        self.optimizer = optimizer
        #: The per-task optimizer copies (empty when every task trains at every step).
        self.task_optimizers = (
            [optimizer.__class__.from_config(optimizer.get_config()) for _ in range(num_tasks)] if sampled else []
        )

    @property
    def variables(self):
        """The compiled optimizer's variables, then each task copy's: the optimizer part of the JAX training state."""
        return list(self.optimizer.variables) + [v for o in self.task_optimizers for v in o.variables]

    def build(self, trainable_variables, task_variables):
        """Creates the optimizers' slots: `task_variables[i]` for task `i`'s copy, the rest for the compiled one."""
        if not self.task_optimizers:
            self.optimizer.build(trainable_variables)
            return
        owned = set()
        for optimizer, variables in zip(self.task_optimizers, task_variables):
            optimizer.build(variables)
            owned |= {id(v) for v in variables}
        self.optimizer.build([v for v in trainable_variables if id(v) not in owned])

    def apply(self, scope, grads, variables, trained, task_variables):
        """Applies `grads` to `variables` in `scope`; task `i`'s own variables only where `trained[i]` holds.

        Args:
            scope: the step's `keras.StatelessScope` (holding every variable's current value).
            grads, variables: the gradients and the trainable variables.
            trained: per task, a Python bool (known when the step is traced) or a boolean scalar.
            task_variables: per task, its own trainable variables.
        """
        if not self.task_optimizers:
            self.optimizer.apply(grads, variables)
            return
        by_id = dict(zip((id(v) for v in variables), grads))
        owned = {id(v) for vs in task_variables for v in vs}
        rest = [(g, v) for g, v in zip(grads, variables) if id(v) not in owned]
        if rest:
            self.optimizer.apply([g for g, _ in rest], [v for _, v in rest])
        else:
            self.optimizer.iterations.assign_add(1)
        for optimizer, task_vars, flag in zip(self.task_optimizers, task_variables, trained):
            if not task_vars:
                continue
            task_grads = [by_id[id(v)] for v in task_vars]

            def update(optimizer=optimizer, task_grads=task_grads, task_vars=task_vars):
                optimizer.apply(task_grads, task_vars)
                return ()

            stateful_cond(scope, flag, update, tuple, list(task_vars) + list(optimizer.variables))

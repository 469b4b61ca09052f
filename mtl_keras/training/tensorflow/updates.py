"""`SampledUpdates`: apply a step's gradients so that tasks not trained in it stay exactly as they were."""

import keras
import tensorflow as tf


class SampledUpdates:
    """Applies the compiled optimizer, with a copy of it for each task's own variables when tasks are sampled.

    When every task trains at every step, one optimizer updates all variables. When a step trains
    only some tasks (`tasks_per_step < T`), a task that is left out must keep its parameters *and*
    its optimizer state: Adam would otherwise move it by momentum and count a step it did not
    take. So each task's own variables get their own copy of the optimizer (its own slots and step
    count, like PyTorch's per-parameter state), applied only when the task is trained; the shared
    variables use the compiled optimizer at every step.

    Under a `tf.distribute` strategy the conditional update runs in cross-replica context (a
    `tf.cond` may not hold the `merge_call` that `optimizer.apply` makes in replica context),
    the way Keras's `LossScaleOptimizer` skips steps.

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

    def apply(self, grads, variables, trained, task_variables):
        """Applies `grads` to `variables`; task `i`'s own variables (`task_variables[i]`) only where `trained[i]` is 1.

        The compiled optimizer's step count advances by one whatever is trained (the data streams
        and the task sampler are indexed by it).
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
        per_task = [[by_id[id(v)] for v in vs] for vs in task_variables]
        flags = tf.unstack(tf.cast(trained, tf.float32), num=len(self.task_optimizers))
        if tf.distribute.has_strategy() and not tf.distribute.in_cross_replica_context():
            tf.distribute.get_replica_context().merge_call(
                _apply_where_cross_replica, args=(self.task_optimizers, per_task, task_variables, flags)
            )
            return
        for optimizer, task_grads, task_vars, flag in zip(self.task_optimizers, per_task, task_variables, flags):
            if task_vars:
                keras.ops.cond(flag > 0, _applier(optimizer, task_grads, task_vars), _nothing)


def _applier(optimizer, grads, variables):
    def apply():
        optimizer.apply(grads, variables)

    return apply


def _nothing():
    return None


def _apply_where_cross_replica(strategy, optimizers, per_task, task_variables, flags):
    """The conditional per-task updates, in cross-replica context (every replica has the same flags)."""
    for optimizer, grads, variables, flag in zip(optimizers, per_task, task_variables, flags):
        if not variables:
            continue
        trained = strategy.experimental_local_results(flag)[0]

        def apply(optimizer=optimizer, grads=grads, variables=variables):
            strategy.extended.call_for_each_replica(optimizer.apply, args=(grads, variables))

        keras.ops.cond(trained > 0, apply, _nothing)

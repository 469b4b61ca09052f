"""Base class of task-weighting strategies: one hook on losses, one on per-task gradients."""

import keras
import tensorflow as tf

from mtl_keras.registry import Registry

WEIGHTINGS = Registry("weighting strategy")


class Weighting(keras.layers.Layer):
    """Turns per-task losses (or per-task gradients) into one update.

    The multi-task objective is `Σ_i ω_i L_i(θ, D_i)`. A weighting strategy chooses the `ω_i`
    (loss-level strategies) or, beyond weights, how the per-task gradients of the shared
    parameters `θ_sh` are combined (gradient-level strategies). Two hooks, one per level:

    - `combine_losses(losses, sampled, step)` -> `(total_loss, weights)`: loss-level strategies
      override `loss_weights` (or this hook when the objective is not a weighted sum, e.g.
      uncertainty weighting's `log σ` terms). Strategies may own trainable variables
      (created in `build`), which the model trains together with the network.
    - `combine_gradients(grads, losses, step)` -> `(direction, weights)`: gradient-level
      strategies (`uses_gradients = True`) receive the per-task gradients of the shared
      parameters stacked as a `[T, P]` matrix and return the update direction `[P]` and the
      task weights they used (`[T]`).

    A strategy is a Keras layer, so it is serializable, tracked and saved with the model.
    Under `tf.distribute` the per-task losses it receives are already scaled per replica (each
    replica's share of the global mean); a term it adds that does not depend on the data (e.g.
    uncertainty weighting's `log σ`) must be divided by `num_replicas_in_sync`, since replica
    gradients are summed.
    Rows of tasks that are not sampled in a step are zero.

    Args:
        **kwargs: forwarded to `keras.layers.Layer` (e.g. `name`).
    """

    #: Whether the strategy needs per-task gradients (gradient-level) or only losses.
    uses_gradients = False
    #: For gradient-level strategies: whether the `[T, P]` matrix should hold the per-task gradients
    #: with respect to the shared *representation* (the body's output, flattened) instead of the
    #: shared parameters (e.g. MGDA-UB). The strategies' maths does not depend on what the columns are.
    uses_representation = False
    #: Whether the weights change during training (then they are logged as `<task>_weight`).
    adaptive = True

    def configure(self, tasks):
        """Called by the model with its tasks (ordered) when compiling."""
        self.task_names = [t.name for t in tasks]
        self.num_tasks = len(tasks)
        self.task_weights = [t.weight for t in tasks]

    @staticmethod
    def global_losses(losses):
        """The global per-task losses from one replica's share (identity without `tf.distribute`).

        Under a strategy each replica holds its share of the global mean loss; strategies that
        keep state from loss values (DWA, FAMO) read the sum over replicas so every replica makes
        the same update.
        """
        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return losses
        return context.all_reduce(tf.distribute.ReduceOp.SUM, tf.stop_gradient(losses))

    def loss_weights(self, losses, step):
        """Returns the weights `ω` (float tensor `[T]`) for per-task `losses` at `step`."""
        raise NotImplementedError

    def combine_losses(self, losses, sampled, step):
        """Combines per-task losses `[T]` into the scalar objective.

        Args:
            losses: float tensor `[T]`, the per-task losses `L_i` of this step.
            sampled: float 0/1 tensor `[T]`, the tasks sampled at this step.
            step: integer tensor, the training step.

        Returns:
            `(total, weights)`: the scalar `Σ_i sampled_i ω_i L_i` and the weights `[T]`.
        """
        weights = tf.stop_gradient(self.loss_weights(losses, step))
        return tf.reduce_sum(weights * sampled * losses), weights

    def combine_gradients(self, grads, losses, step):
        """Combines per-task gradients `[T, P]` of the shared parameters into a direction `[P]`.

        Returns:
            `(direction, weights)`: a float tensor `[P]` and the task weights `[T]`.
        """
        raise NotImplementedError(f"{type(self).__name__} is not a gradient-level strategy.")

    def compute_output_shape(self, input_shape):
        return input_shape


def get(identifier):
    """Returns a `Weighting` from a registered name, a config dict or an instance (`None`: "static")."""
    return WEIGHTINGS.resolve(identifier, Weighting, default="static")

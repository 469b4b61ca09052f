"""Base class of task-weighting strategies: one hook on losses, one on per-task gradients."""

import keras
import tensorflow as tf

from mtl_keras.registry import Registry
from mtl_keras.weighting._ops import combine, gram

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
      parameters stacked as a `[T, P]` matrix `G` and return the update direction `[P]` and the
      task weights they used (`[T]`). With `uses_representation`, the model calls
      `combine_representation_gradients` instead, with the rows shaped `[T, B, ...]`.

    Most gradient-level methods return a combination of the rows, `d = Gᵀ w`, with weights that
    depend on `G` only through its Gram matrix `K = G Gᵀ` (`[T, T]`). Such a strategy implements
    `weights_from_gram(gram_matrix, losses, step)` -> `w` and inherits `combine_gradients`. This
    is also what makes representation-level gradients exact under `tf.distribute`: the columns of
    `G` are then the examples, split over replicas, so the global `K` is the sum of the replicas'
    Gram matrices (one `T x T` all-reduce) and each replica applies `w` to its own columns.

    A strategy is a Keras layer, so it is serializable, tracked and saved with the model.
    Under `tf.distribute` the per-task losses it receives are already scaled per replica (each
    replica's share of the global mean); a term it adds that does not depend on the data (e.g.
    uncertainty weighting's `log σ`) must be divided by `num_replicas_in_sync`, since replica
    gradients are summed.
    Rows of tasks that are not sampled in a step are zero.

    Args:
        uses_representation: for gradient-level strategies, take the per-task gradients with
            respect to the shared representation (the body's output `Z`) instead of all shared
            parameters: `∇_Z L_i` needs one backward pass through the heads, and the combined
            direction then goes once through the trunk (`∂Z/∂θ_sh · d`), instead of one backward
            pass through the trunk per task. Needs a model with one shared input and a fully
            shared body. `None` keeps the strategy's default (True only for `mgda_ub`).
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

    def __init__(self, *, uses_representation=None, **kwargs):
        super().__init__(**kwargs)
        if uses_representation is not None:
            if not isinstance(uses_representation, bool):
                raise ValueError(
                    f"{type(self).__name__}: uses_representation must be True, False or None. "
                    f"Received: uses_representation={uses_representation!r}"
                )
            if uses_representation and not self.uses_gradients:
                raise ValueError(
                    f"{type(self).__name__} weights the losses, not their gradients: it has no "
                    "representation-level variant. Received: uses_representation=True"
                )
            self.uses_representation = uses_representation

    @property
    def gram_based(self):
        """Whether the direction is `Gᵀ w` with `w` from the Gram matrix: `weights_from_gram` is
        implemented and `combine_gradients` is not overridden (an override changes the direction)."""
        cls = type(self)
        return cls.weights_from_gram is not Weighting.weights_from_gram and cls.combine_gradients is Weighting.combine_gradients

    def configure(self, tasks):
        """Called by the model with its tasks (ordered) when compiling."""
        self.task_names = [t.name for t in tasks]
        self.num_tasks = len(tasks)
        self.task_weights = [t.weight for t in tasks]

    @staticmethod
    def sum_over_replicas(tensor):
        """The sum of `tensor` over the replicas of a `tf.distribute` strategy (identity without one)."""
        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return tensor
        return context.all_reduce(tf.distribute.ReduceOp.SUM, tensor)

    @staticmethod
    def global_losses(losses):
        """The global per-task losses from one replica's share (identity without `tf.distribute`).

        Under a strategy each replica holds its share of the global mean loss; strategies that
        keep state from loss values (DWA, FAMO) read the sum over replicas so every replica makes
        the same update.
        """
        return Weighting.sum_over_replicas(tf.stop_gradient(losses))

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

    def weights_from_gram(self, gram_matrix, losses, step):
        """Task weights `w` `[T]` from the Gram matrix `K = G Gᵀ` `[T, T]` of the per-task gradients.

        Implemented by strategies whose direction is the combination `d = Gᵀ w` of the rows.

        Args:
            gram_matrix: float tensor `[T, T]`; rows and columns of unsampled tasks are zero.
            losses: float tensor `[T]`, the (global) per-task losses.
            step: integer tensor, the training step.
        """
        raise NotImplementedError(f"{type(self).__name__} does not compute its weights from the Gram matrix.")

    def combine_gradients(self, grads, losses, step):
        """Combines per-task gradients `[T, P]` of the shared parameters into a direction `[P]`.

        The default, for strategies that implement `weights_from_gram`, is `d = Gᵀ w` with
        `w = weights_from_gram(G Gᵀ, losses, step)`.

        Returns:
            `(direction, weights)`: a float tensor `[P]` and the task weights `[T]`.
        """
        if type(self).weights_from_gram is Weighting.weights_from_gram:
            raise NotImplementedError(f"{type(self).__name__} is not a gradient-level strategy.")
        weights = tf.cast(self.weights_from_gram(gram(grads), losses, step), grads.dtype)
        return combine(weights, grads), weights

    def combine_representation_gradients(self, grads, losses, step):
        """Combines per-task gradients with respect to the shared representation into one direction.

        Called by the model when `uses_representation` is set, with this replica's examples. The
        default flattens every row (`[T, B·…]`) and uses `combine_gradients`; under `tf.distribute`
        the rows' columns are the examples, split over replicas, so a Gram-based strategy gets the
        global `K = Σ_replicas G_r G_rᵀ` (a `T x T` all-reduce) and applies its weights to its own
        columns: the global-batch result. Strategies that act on coordinates override this
        (GradDrop sums over the batch axis).

        Args:
            grads: float tensor `[T, B, ...]`, `∇_Z L_i` for this replica's batch `Z` `[B, ...]`.
            losses: float tensor `[T]`, this replica's share of each task's loss.
            step: integer tensor, the training step.

        Returns:
            `(direction, weights)`: a float tensor shaped like `Z` and the task weights `[T]`.
        """
        rows = tf.reshape(grads, [tf.shape(grads)[0], -1])
        if self.gram_based:  # with one replica, exactly `combine_gradients`
            global_gram = self.sum_over_replicas(gram(rows))
            weights = tf.cast(self.weights_from_gram(global_gram, self.global_losses(losses), step), rows.dtype)
            direction = combine(weights, rows)
        else:
            direction, weights = self.combine_gradients(rows, self.global_losses(losses), step)
        return tf.reshape(direction, tf.shape(grads)[1:]), weights

    def get_config(self):
        config = super().get_config()
        if self.uses_gradients:
            config["uses_representation"] = bool(self.uses_representation)
        return config

    def compute_output_shape(self, input_shape):
        return input_shape


def get(identifier):
    """Returns a `Weighting` from a registered name, a config dict or an instance (`None`: "static")."""
    return WEIGHTINGS.resolve(identifier, Weighting, default="static")

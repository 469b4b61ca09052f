"""Base classes of task-weighting strategies: loss-level, gradient-level and Gram-based."""

from typing import Any, NamedTuple

import keras
import tensorflow as tf

from mtl_keras.registry import Registry
from mtl_keras.weighting._ops import active_rows, combine, gram

WEIGHTINGS = Registry("weighting strategy")


class Combination(NamedTuple):
    """What a strategy makes of per-task gradients: the update direction and the task weights.

    A named pair, so `direction, weights = strategy(G)` also works.

    Attributes:
        direction: float tensor `[P]` (shaped like one row of the gradient matrix), the update
            direction to descend along.
        weights: float tensor `[T]`, the task weights the strategy used. For strategies whose
            direction is a combination of the rows, `direction = Gᵀ weights`; for the others
            (GradDrop, DB-MTL, MoCo), what they report as the tasks' weights.
    """

    direction: Any
    weights: Any


class Weighting(keras.layers.Layer):
    """Turns per-task losses (or per-task gradients) into one update.

    The multi-task objective is `Σ_i ω_i L_i(θ, D_i)`. A weighting strategy chooses the `ω_i`
    (loss-level strategies) or, beyond weights, how the per-task gradients of the shared
    parameters `θ_sh` are combined (gradient-level strategies). Every strategy derives from one
    of three base classes, which decide its kind:

    - `LossWeighting`: `combine_losses(losses, sampled, step)` -> `(total_loss, weights)`, the
      scalar the network is trained on. Subclasses override `loss_weights` (or `combine_losses`
      when the objective is not a weighted sum, e.g. uncertainty weighting's `log σ` terms). They
      may own trainable variables (created in `build_state`), trained with the network.
    - `GradientWeighting`: `combine_gradients(G, losses, step)` -> `(direction, weights)` on the
      per-task gradients of the shared parameters stacked as `G` `[T, P]`. With
      `uses_representation`, the model calls `combine_representation_gradients` instead, with
      the rows shaped `[T, B, ...]`.
    - `GramWeighting` (a `GradientWeighting`): the direction is `d = Gᵀ w` with weights that depend
      on `G` only through its Gram matrix `K = G Gᵀ`; subclasses implement `weights_from_gram`.
      This is what makes representation-level gradients exact under `tf.distribute` (the global
      `K` is the sum of the replicas' Gram matrices).

    **Standalone use.** Every strategy is also a callable on a `[T, P]` gradient matrix, float32 or
    float64: `strategy(G, losses=None, step=0)` returns a `Combination(direction, weights)`. `T`
    is taken from `G`; no `configure` or `build` is needed. Losses are needed only by the methods
    that use them (`needs_losses`); stateful methods (DWA, FAMO, GradNorm, GradVac, ...) update
    their state at each call, as in training. A loss-level strategy returns `Gᵀ w` with `w` its
    effective loss weights `∂ objective / ∂ L_i`, i.e. the gradient of its objective.

    **Absent tasks.** A task that is not sampled at a step, or has no labelled example in the
    batch, is *absent*: `sampled_i = 0` in `combine_losses`, a zero row of `G` in the gradient
    hooks (and its loss is 0). Every strategy leaves absent tasks out: no weight in the objective
    or the direction, and no update of their state (loss histories, learned weights, averages).

    **Number of tasks.** `configure(tasks)` (the model calls it at compile) or the first call fixes
    `T`; using the same object with another number of tasks raises a `ValueError`.

    A strategy is a Keras layer, so it is serializable, tracked and saved with the model. Under
    `tf.distribute` the per-task losses it receives are already scaled per replica (each replica's
    share of the global mean); a term it adds that does not depend on the data (e.g. uncertainty
    weighting's `log σ`) must be divided by `num_replicas_in_sync`, since replica gradients are
    summed.

    Args:
        uses_representation: for gradient-level strategies, take the per-task gradients with
            respect to the shared representation (the body's output `Z`) instead of all shared
            parameters: `∇_Z L_i` needs one backward pass through the heads, and the combined
            direction then goes once through the trunk (`∂Z/∂θ_sh · d`), instead of one backward
            pass through the trunk per task. Needs a model with one shared input and a fully
            shared body. `None` keeps the strategy's default (True only for `mgda_ub`).
        **kwargs: forwarded to `keras.layers.Layer` (e.g. `name`).
    """

    #: Whether the strategy needs per-task gradients (gradient-level) or only losses. Set by the base class.
    uses_gradients = False
    #: For gradient-level strategies: whether the `[T, P]` matrix should hold the per-task gradients
    #: with respect to the shared *representation* (the body's output, flattened) instead of the
    #: shared parameters (e.g. MGDA-UB). The strategies' maths does not depend on what the columns are.
    uses_representation = False
    #: Whether `uses_representation=True` is allowed (False for methods that keep per-coordinate state).
    supports_representation = True
    #: Whether the weights change during training (then they are logged as `<task>_weight`).
    adaptive = True
    #: Whether the method needs the per-task losses (standalone calls without them raise).
    needs_losses = False
    #: Whether the state is sized by the gradient rows: `build((T, P))` must give `P`.
    needs_gradient_size = False
    #: The Keras backends the strategy trains on (`compile` refuses it on another one).
    backends = ("tensorflow",)

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
            if uses_representation and not self.supports_representation:
                raise ValueError(
                    f"{type(self).__name__} keeps per-coordinate state across steps, which has no meaning "
                    "for representation gradients (their columns are the batch's examples): use it on the "
                    "shared parameters. Received: uses_representation=True"
                )
            self.uses_representation = uses_representation
        self.num_tasks = None
        self.gradient_shape = None

    # ------------------------------------------------------------------ kind and tasks
    @property
    def gram_based(self):
        """Whether the direction is `Gᵀ w` with `w` from the Gram matrix (the strategy is a `GramWeighting`)."""
        return isinstance(self, GramWeighting)

    def configure(self, tasks):
        """Called by the model with its tasks (ordered) when compiling; fixes the number of tasks."""
        names = [t.name for t in tasks]
        self._check_num_tasks(len(names), f"tasks {names}")
        self.task_names = names
        self.num_tasks = len(names)
        self.task_weights = [float(t.weight) for t in tasks]

    def _check_num_tasks(self, num_tasks, what):
        if self.num_tasks is not None and int(num_tasks) != self.num_tasks:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' is set up for {self.num_tasks} tasks {self.task_names} "
                f"and cannot be used with {int(num_tasks)} ({what}): a strategy object keeps per-task "
                f"settings and state, so use a new {type(self).__name__}(...) for each model. "
                f"Received: num_tasks={int(num_tasks)}"
            )

    def _default_tasks(self, num_tasks):
        """Sets `T` (and default task names `task_0`, ... with weight 1) when not configured, else checks it."""
        self._check_num_tasks(num_tasks, f"a gradient matrix with {int(num_tasks)} rows")
        if self.num_tasks is None:
            self.task_names = [f"task_{i}" for i in range(int(num_tasks))]
            self.num_tasks = int(num_tasks)
            self.task_weights = [1.0] * self.num_tasks

    # ------------------------------------------------------------------ state
    def build(self, input_shape=None):
        """Creates the strategy's state for `T` tasks.

        Args:
            input_shape: `None` (then `configure(tasks)` must have been called) or the shape of
                the gradient matrix `(T, P)`, which gives `T` and, for methods whose state is sized
                by the gradient rows (`needs_gradient_size`), `P`.
        """
        if input_shape is not None:
            input_shape = tuple(None if d is None else int(d) for d in input_shape)
            self._default_tasks(input_shape[0])
        elif self.num_tasks is None:
            raise ValueError(
                f"{type(self).__name__} does not know its number of tasks: call configure(tasks) first, "
                "or build((num_tasks, gradient_size)). Received: input_shape=None"
            )
        size = None if input_shape is None or len(input_shape) < 2 else input_shape[1]
        if self.needs_gradient_size and size is None:
            raise ValueError(
                f"{type(self).__name__} keeps per-task state of the size of a gradient row, so it must be "
                "built with the gradient matrix's shape: build((num_tasks, gradient_size)) before training "
                "(the model passes its number of shared parameters). "
                f"Received: input_shape={input_shape}"
            )
        self.gradient_shape = (self.num_tasks, size)
        self.build_state(self.gradient_shape)

    def build_state(self, gradient_shape):
        """Creates the strategy's variables; `gradient_shape` is `(T, P)` (`P` may be `None`)."""

    def get_build_config(self):
        if self.gradient_shape is None:
            return None
        return {"input_shape": list(self.gradient_shape)}

    def build_from_config(self, config):
        shape = (config or {}).get("input_shape")
        if shape is None:
            return  # built later, at compile, once the tasks are known
        self.build(shape)

    # ------------------------------------------------------------------ distribution helpers
    @staticmethod
    def sum_over_replicas(tensor):
        """The sum of `tensor` over the replicas of a `tf.distribute` strategy (identity without one)."""
        if keras.backend.backend() != "tensorflow":
            return tensor  # tf.distribute is TensorFlow's; other backends have no replica context here
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
        return Weighting.sum_over_replicas(keras.ops.stop_gradient(losses))

    # ------------------------------------------------------------------ hooks
    def combine_losses(self, losses, sampled, step):
        """Combines per-task losses `[T]` into the scalar objective (loss-level strategies)."""
        raise NotImplementedError(f"{type(self).__name__} is not a loss-level strategy.")

    def combine_gradients(self, grads, losses, step):
        """Combines per-task gradients `G` `[T, P]` into `Combination(direction [P], weights [T])`."""
        raise NotImplementedError

    def combine_representation_gradients(self, grads, losses, step):
        """Combines per-task gradients with respect to the shared representation into one direction.

        Called by the model when `uses_representation` is set, with this replica's examples. The
        default flattens every row (`[T, B·…]`) and uses `combine_gradients` with the global
        losses: the global-batch result with one replica. `GramWeighting` makes it exact under
        `tf.distribute`; strategies that act on coordinates override it (GradDrop sums over the
        batch axis).

        Args:
            grads: float tensor `[T, B, ...]`, `∇_Z L_i` for this replica's batch `Z` `[B, ...]`.
            losses: float tensor `[T]`, this replica's share of each task's loss.
            step: integer tensor, the training step.

        Returns:
            `Combination(direction, weights)`: a float tensor shaped like `Z` and the task weights `[T]`.
        """
        rows = tf.reshape(grads, [tf.shape(grads)[0], -1])
        direction, weights = self.combine_gradients(rows, self.global_losses(losses), step)
        return Combination(tf.reshape(direction, tf.shape(grads)[1:]), weights)

    # ------------------------------------------------------------------ standalone call
    def __call__(self, gradients, losses=None, step=0):
        """Combines a per-task gradient matrix on its own: `strategy(G)` -> `Combination(direction, weights)`.

        Args:
            gradients: float32 or float64 tensor (or array) `[T, P]`, one task's gradient per row;
                zero rows are absent tasks.
            losses: optional float tensor `[T]`, the per-task losses (required by methods with
                `needs_losses`, e.g. DWA, FAMO, GradNorm).
            step: the training step (seeds the random draws of PCGrad, GradDrop, RLW, ...).

        Returns:
            `Combination(direction [P], weights [T])`, in the dtype of `gradients`.
        """
        grads = tf.convert_to_tensor(gradients)
        if not grads.dtype.is_floating or grads.shape.rank != 2:
            raise ValueError(
                f"{type(self).__name__} combines a float gradient matrix [num_tasks, size]. "
                f"Received: gradients with shape {grads.shape} and dtype {grads.dtype.name}"
            )
        num_tasks = grads.shape[0]
        if num_tasks is None:
            raise ValueError(f"The number of tasks (rows) must be static. Received shape: {grads.shape}")
        if num_tasks == 0:
            raise ValueError(
                f"{type(self).__name__} combines a gradient matrix with one row per task; it has none. "
                f"Received: gradients with shape {grads.shape}"
            )
        if losses is None:
            if self.needs_losses:
                raise ValueError(
                    f"{type(self).__name__} needs the per-task losses (its weights, or the state it learns, "
                    "depend on their values): call it as strategy(gradients, losses=[...], step=...). "
                    "Received: losses=None"
                )
            losses = tf.zeros([num_tasks], grads.dtype)
        losses = tf.cast(tf.convert_to_tensor(losses), grads.dtype)
        if losses.shape != (num_tasks,):
            raise ValueError(
                f"{type(self).__name__}: losses must have one value per task ({num_tasks}). "
                f"Received: losses with shape {losses.shape}"
            )
        self._default_tasks(num_tasks)
        if not self.built:
            self.build(tuple(grads.shape))
        elif self.needs_gradient_size and self.gradient_shape[1] != grads.shape[1]:
            raise ValueError(
                f"{type(self).__name__} was built for gradient rows of size {self.gradient_shape[1]}. "
                f"Received: gradients with shape {grads.shape}"
            )
        step = tf.cast(tf.convert_to_tensor(step), tf.int64)
        return Combination(*self.combine_gradients(grads, losses, step))

    def call(self, gradients, losses=None, step=0):
        return self.__call__(gradients, losses, step)

    def get_config(self):
        config = super().get_config()
        if self.uses_gradients:
            config["uses_representation"] = bool(self.uses_representation)
        return config

    def compute_output_shape(self, input_shape):
        return input_shape


class LossWeighting(Weighting):
    """Base class of loss-level strategies: they weigh (or transform) the per-task losses.

    Subclasses implement `loss_weights(losses, step)` (the objective is then `Σ_i sampled_i ω_i L_i`)
    or override `combine_losses` (non-linear objectives, learned weights, state). Called on a
    gradient matrix, a loss-level strategy returns `Gᵀ w` with `w` the effective loss weights, the
    tasks with a zero row counting as not sampled.
    """

    uses_gradients = False

    def loss_weights(self, losses, step):
        """Returns the weights `ω` (float tensor `[T]`) for per-task `losses` at `step`."""
        raise NotImplementedError

    def combine_losses(self, losses, sampled, step):
        """Combines per-task losses `[T]` into the scalar objective.

        Args:
            losses: float tensor `[T]`, the per-task losses `L_i` of this step (0 for absent tasks).
            sampled: float 0/1 tensor `[T]`, the tasks present at this step (sampled, with a
                labelled example in the batch).
            step: integer tensor, the training step.

        Returns:
            `(total, weights)`: the scalar objective and the effective weights `∂ total / ∂ L_i` `[T]`.
        """
        weights = keras.ops.stop_gradient(self.loss_weights(losses, step))
        return keras.ops.sum(weights * keras.ops.cast(sampled, losses.dtype) * losses), weights

    def combine_gradients(self, grads, losses, step):
        """`Gᵀ w` with `w` the loss weights for these losses, the zero rows of `grads` counting as absent."""
        sampled = active_rows(grads)
        _, weights = self.combine_losses(tf.cast(losses, grads.dtype), sampled, step)
        weights = tf.cast(weights, grads.dtype)
        return Combination(combine(weights, grads), weights)


class GradientWeighting(Weighting):
    """Base class of gradient-level strategies: they combine the per-task gradients of the shared part.

    Subclasses implement `combine_gradients(grads, losses, step)` -> `Combination(direction, weights)`
    for `grads` `[T, P]` (zero rows are absent tasks). Strategies whose direction is `Gᵀ w` with
    `w` a function of the Gram matrix derive from `GramWeighting` instead.
    """

    uses_gradients = True


class GramWeighting(GradientWeighting):
    """Base class of gradient-level strategies with direction `d = Gᵀ w`, `w` computed from `K = G Gᵀ`.

    Subclasses implement `weights_from_gram(gram_matrix, losses, step)`; `combine_gradients` and
    `combine_representation_gradients` follow. Representation-level gradients are then combined
    exactly under `tf.distribute`: the columns of `G` are the examples, split over replicas, so
    the global `K` is the sum of the replicas' Gram matrices (one `T x T` all-reduce) and each
    replica applies `w` to its own columns.
    """

    def weights_from_gram(self, gram_matrix, losses, step):
        """Task weights `w` `[T]` from the Gram matrix `K = G Gᵀ` `[T, T]` of the per-task gradients.

        Args:
            gram_matrix: float tensor `[T, T]`; rows and columns of absent tasks are zero.
            losses: float tensor `[T]`, the (global) per-task losses.
            step: integer tensor, the training step.
        """
        raise NotImplementedError

    def combine_gradients(self, grads, losses, step):
        weights = tf.cast(self.weights_from_gram(gram(grads), losses, step), grads.dtype)
        return Combination(combine(weights, grads), weights)

    def combine_representation_gradients(self, grads, losses, step):
        rows = tf.reshape(grads, [tf.shape(grads)[0], -1])
        global_gram = self.sum_over_replicas(gram(rows))
        weights = tf.cast(self.weights_from_gram(global_gram, self.global_losses(losses), step), rows.dtype)
        return Combination(tf.reshape(combine(weights, rows), tf.shape(grads)[1:]), weights)


def get(identifier):
    """Returns a `Weighting` from a registered name, a config dict or an instance (`None`: "static")."""
    return WEIGHTINGS.resolve(identifier, Weighting, default="static")

"""`PreferenceModel`: one network for the whole trade-off front, conditioned on a preference `r`."""

import numbers

import keras
import numpy as np
import tensorflow as tf

from mtl_keras.model import MultiTaskModel
from mtl_keras.pareto.layers import PreferenceBody, preference_like
from mtl_keras.pareto.objective import PreferenceObjective
from mtl_keras.pareto.simplex import check_preference


@keras.saving.register_keras_serializable(package="mtl_keras")
class PreferenceModel(MultiTaskModel):
    """A multi-task model conditioned on a preference vector `r ∈ Δ^{T-1}` (COSMOS / Pareto HyperNetworks).

    The body is a `PreferenceBody`: FiLM blocks whose scales and shifts are affine in `r`. Every
    training step draws one preference `r ~ Dirichlet(α, ..., α)` (reproducibly from
    `(seed, step)`), runs the body conditioned on it and minimises `Σ_i r_i L_i − λ cos(r, L)`
    (`PreferenceObjective`); everything else — data checks, trackers, task heads, optimizer — is the
    `MultiTaskModel` training step. After training, `predict(x, preference=r)` gives the model at the
    trade-off `r`, without retraining: one model approximates the front that separate fixed-weight
    runs trace.

    Args:
        tasks: list of `mtl_keras.Task`.
        body: a `PreferenceBody` (or any layer called as `body(x, preference=r, training=...)`).
            Defaults to an MLP `PreferenceBody` with two blocks of 64.
        heads: task heads (default: linear `TaskHeads`).
        alpha: Dirichlet concentration of the training preferences (`> 0`; 1 is uniform on the simplex,
            below 1 favours the corners). Defaults to 1.
        cosine_weight: COSMOS's `λ >= 0` (see `PreferenceObjective`). Defaults to 0.1.
        seed: seed of the preference draws.
        input_shape: optional input shape (without batch), to build at construction.
        **kwargs: forwarded to `MultiTaskModel` (e.g. `name`). Inputs are shared (one `x` for all tasks).

    Example:

    >>> model = PreferenceModel(tasks, body=PreferenceBody(2, units=(32,)), input_shape=(16,))
    >>> model.compile(optimizer="adam")
    >>> model.fit(x, y, epochs=5)
    >>> model.predict(x, preference=[0.8, 0.2])["left"]

    References: Ruchte & Grabocka, "Scalable Pareto Front Approximation for Deep Multi-Objective
    Learning", ICDM 2021; Navon et al., "Learning the Pareto Front with Hypernetworks", ICLR 2021.
    """

    #: Served with a `preference` input (`mtl_keras.export.export_saved_model` dispatches on it).
    takes_preference = True


    def __init__(self, tasks, body=None, heads=None, alpha=1.0, cosine_weight=0.1, seed=0, input_shape=None, **kwargs):
        if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not (np.isfinite(alpha) and alpha > 0):
            raise ValueError(
                f"PreferenceModel: alpha must be a finite number > 0 (one concentration for every task). Received: alpha={alpha!r}"
            )
        alpha = float(alpha)
        if isinstance(cosine_weight, bool) or not isinstance(cosine_weight, numbers.Real) or not (
            np.isfinite(cosine_weight) and cosine_weight >= 0
        ):
            raise ValueError(f"PreferenceModel: cosine_weight must be a finite number >= 0. Received: cosine_weight={cosine_weight!r}")
        cosine_weight = float(cosine_weight)
        num_tasks = len(tasks)
        body = body if body is not None else PreferenceBody(num_tasks, name="preference_body")
        body_tasks = getattr(body, "num_tasks", None) if isinstance(body, PreferenceBody) else None
        if body_tasks is not None and body_tasks != num_tasks:
            raise ValueError(
                f"PreferenceModel: body was made for {body_tasks} tasks but the model has {num_tasks}: "
                f"{[getattr(t, 'name', t) for t in tasks]}. Received: body=PreferenceBody({body_tasks}, ...)"
            )
        self.alpha, self.cosine_weight = alpha, cosine_weight
        super().__init__(tasks, body=body, heads=heads, seed=seed, input_shape=None, **kwargs)
        # The preference used when none is given (evaluate, predict without `preference=`): not saved.
        object.__setattr__(self, "_default_preference", tf.Variable(tf.fill([num_tasks], 1.0 / num_tasks), trainable=False))
        object.__setattr__(self, "_step_preference", None)
        self._input_shape_arg = input_shape
        if input_shape is not None:
            from mtl_keras.training import fitting

            self.build(fitting.batch_shapes(input_shape, has_batch=False))

    # ------------------------------------------------------------------ preference
    def check_preference(self, preference, batched=True):
        """Validates a preference (`(T,)`, or `(batch, T)` with `batched`) and returns it as float32 numpy.

        Raises a `ValueError` naming `preference` for a wrong length, a negative, NaN or infinite entry,
        or a sum away from 1 (tolerance 1e-3).
        """
        return check_preference(preference, len(self.tasks), batched=batched).astype(np.float32)

    def draw_preference(self, step):
        """The training preference of `step`: `Dirichlet(α)` from `(seed, step)`, a float32 `(T,)` tensor."""
        seed = tf.stack([tf.cast(self.seed, tf.int64), tf.cast(step, tf.int64)])
        gamma = tf.random.stateless_gamma([len(self.tasks)], seed=seed, alpha=self.alpha, dtype=tf.float32)
        gamma = tf.maximum(gamma, 1e-12)
        return gamma / tf.reduce_sum(gamma)

    # ------------------------------------------------------------------ forward
    def features(self, x, task_index=None, training=False, preference=None):
        if self.is_per_task_input(x):
            raise ValueError("PreferenceModel takes one shared input for all tasks, not a dict keyed by task.")
        if preference is None:
            preference = self._step_preference if self._step_preference is not None else self._default_preference
        return self.body(x, preference=preference_like(preference, x), training=training)

    def call(self, inputs, training=None, raw=False, preference=None):
        if preference is not None and not tf.is_tensor(preference) and not isinstance(preference, keras.KerasTensor):
            preference = self.check_preference(preference)
        if preference is None:
            return super().call(inputs, training=training, raw=raw)
        outputs = dict(zip(self.task_names, self.heads(self.features(inputs, None, training, preference), training=training)))
        if raw:
            return outputs
        return {name: self.finalize_output(task, outputs[name]) for name, task in zip(self.task_names, self.tasks)}

    # ------------------------------------------------------------------ training
    def compile(self, optimizer="adam", weighting=None, **kwargs):
        """Configures training; the objective is always `PreferenceObjective(cosine_weight)`.

        Args:
            optimizer: any Keras optimizer or its name.
            weighting: `None` (default) or a `PreferenceObjective`; another strategy raises a `ValueError`
                (the preference drawn at each step is the weighting).
            **kwargs: forwarded to `MultiTaskModel.compile`.
        """
        if weighting is None:
            weighting = PreferenceObjective(self.cosine_weight, name="preference_objective")
        elif not isinstance(weighting, PreferenceObjective):
            raise ValueError(
                "PreferenceModel is trained on Σ r_i L_i − λ cos(r, L) with a preference r drawn at each step; "
                f"it takes no other weighting strategy. Received: weighting={weighting!r}"
            )
        super().compile(optimizer=optimizer, weighting=weighting, **kwargs)

    def train_on_data(self, x, y, sample_weight):
        r = self.draw_preference(self.optimizer.iterations)
        object.__setattr__(self, "_step_preference", r)
        object.__setattr__(self.weighting, "step_preference", r)
        try:
            super().train_on_data(x, y, sample_weight)
        finally:
            object.__setattr__(self, "_step_preference", None)
            object.__setattr__(self.weighting, "step_preference", None)

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, x=None, y=None, *args, preference=None, **kwargs):
        """`MultiTaskModel.evaluate` at the trade-off `preference` `(T,)` (default: uniform)."""
        with self._preference_scope(preference):
            return super().evaluate(x, y, *args, **kwargs)

    def predict(self, x, *args, preference=None, **kwargs):
        """Per-task outputs at the trade-off `preference`: `(T,)` for every example, or `(n, T)` one per row.

        Defaults to the uniform preference `(1/T, ..., 1/T)`.
        """
        if preference is not None and np.ndim(preference) == 2:
            values = self.check_preference(preference)
            first = keras.tree.flatten(x)[0]
            if len(values) != len(first):
                raise ValueError(
                    f"preference has {len(values)} rows but the input has {len(first)} examples. "
                    "Give one preference (T,) for all, or one row per example."
                )
            batch = kwargs.get("batch_size") or 256
            parts = [self(x[i : i + batch], preference=values[i : i + batch]) for i in range(0, len(first), batch)]
            return {name: np.concatenate([np.asarray(p[name]) for p in parts]) for name in self.task_names}
        with self._preference_scope(preference):
            return super().predict(x, *args, **kwargs)

    def _preference_scope(self, preference):
        model = self

        class _Scope:
            def __enter__(self):
                self.previous = model._default_preference.numpy()
                if preference is not None:
                    model._default_preference.assign(model.check_preference(preference, batched=False))

            def __exit__(self, *exc):
                model._default_preference.assign(self.previous)

        return _Scope()

    # ------------------------------------------------------------------ config
    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "cosine_weight": self.cosine_weight}

"""The few things mtl-keras needs that Keras and TensorFlow have no public form for, in one place.

Everything else in the library uses the public API (`ruff` bans `keras.src` and
`tensorflow.python` outside this module). Each item says why it is here and the versions it was
checked on: TensorFlow 2.21.0, Keras 3.15.1. When upgrading, run the tests of the item named.
"""

from keras.src.trainers import compile_utils


# --------------------------------------------------------------------------- metric directions
class MetricGroup(compile_utils.MetricsList):
    """A container of metrics whose directions Keras callbacks can read.

    Why: `EarlyStopping`, `ModelCheckpoint` and `ReduceLROnPlateau` with `mode="auto"` look for the
    monitored metric only inside Keras's own metric containers (`MetricsList`, `CompileMetrics`),
    and read its private `_direction`. A multi-task model's per-task metrics live outside
    `compile()`, so they are put in such a container. Tested by
    `tests/test_model.py::test_works_with_keras_callbacks` (`monitor="val_<task>_accuracy"` in
    `mode="auto"`).
    """

    def result(self):
        return self.get_result()


def set_direction(metric, direction):
    """Marks `metric` as one to minimise (`"down"`) or maximise (`"up"`) for callbacks' `mode="auto"`."""
    metric._direction = direction
    return metric


# --------------------------------------------------------------------------- layers
def flatten_layers(layer, include_self=True, recursive=True):
    """All sub-layers of `layer` (Keras has no public recursive listing of a layer's sub-layers)."""
    return list(layer._flatten_layers(include_self=include_self, recursive=recursive))


def take_call_losses(layers):
    """Returns and clears the losses that calls of `layers` added (`add_loss`, activity regularizers).

    Why: a layer stores the losses of its last call in a private list, which `layer.losses` reads.
    When a task's layers run inside a `tf.cond` branch (a sampled step computes only the sampled
    tasks), those tensors belong to the branch's graph and cannot be read outside it. The branch
    takes them out and returns their sum instead. Weight-regularization losses are not stored (they
    are computed from the weights whenever `losses` is read) and are left alone. Tested by
    `tests/training/test_sampled_step.py::test_layer_losses_inside_sampled_tasks`.
    """
    taken = []
    for layer in layers:
        for sub in flatten_layers(layer, include_self=True):
            if sub._losses:
                taken.extend(sub._losses)
                sub._losses.clear()
    return taken


# --------------------------------------------------------------------------- training loop
class ModelHooks:
    """Mixin of two overrides of private `keras.Model` methods that a `MultiTaskModel` needs.

    - `_lock_state`: Keras forbids new state (layers, variables) on a layer once it is built. A
      multi-task model gets its weighting strategy (a layer that may own variables, e.g. the
      learned log-variances of uncertainty weighting) at `compile()`, which may come after the
      model is built (a model built at construction, or loaded from a `.keras` file), so its
      state stays open. Tested by `tests/weighting` (strategies with variables, compiled after
      build, saved and reloaded).
    - `_maybe_symbolic_build`: under a `tf.distribute` strategy `fit()` reads one batch and reduces
      it across replicas to build a model symbolically; reducing a dict of per-task batches fails
      under `MultiWorkerMirroredStrategy`, and a `MultiTaskModel` is built from its data before
      `fit()` starts anyway. Tested by the multi-worker tests in `tests/distributed`.
    """

    def _lock_state(self):
        pass

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if self.built and self.optimizer is not None and self.optimizer.built:
            return
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)


# --------------------------------------------------------------------------- JAX training state
class JaxStateHooks:
    """Mixin of three overrides of private methods of Keras's JAX trainer that a `MultiTaskModel` needs.

    Why: on JAX, `fit` hands the train step the model's state as lists of values and writes them
    back at the end of an epoch (or when a callback reads the model); the optimizer part is
    `model.optimizer.variables`. With sampled tasks a `MultiTaskModel` has per-task copies of the
    optimizer whose variables must travel in the state too, so `_get_jax_state`,
    `_purge_model_variables` and `jax_state_sync` read the optimizer part from
    `self.optimizer_state_variables` (the compiled optimizer's variables, then the copies').
    Under a `keras.distribution`, `_get_state_sharding_spec` gives those variables' shardings too.
    Checked on Keras 3.15.1. Tested by `tests/jax_backend/test_jax_training.py` (sampled training on JAX
    equal to TensorFlow's, and data parallel on two devices equal to one).
    """

    def _get_state_sharding_spec(self):
        trainable, non_trainable, _, metrics = super()._get_state_sharding_spec()
        optimizer = [v.value.sharding for v in self.optimizer_state_variables]
        return trainable, non_trainable, optimizer, metrics

    def _state_groups(self, trainable, non_trainable, optimizer, metrics):
        groups = (
            (trainable, "trainable_variables", self.trainable_variables),
            (non_trainable, "non_trainable_variables", self.non_trainable_variables),
            (optimizer, "optimizer_variables", self.optimizer_state_variables if optimizer else []),
            (metrics, "metrics_variables", self.metrics_variables),
        )
        return [(name, variables) for flag, name, variables in groups if flag]

    def _get_jax_state(
        self,
        trainable_variables=False,
        non_trainable_variables=False,
        optimizer_variables=False,
        metrics_variables=False,
        purge_model_variables=False,
    ):
        groups = self._state_groups(trainable_variables, non_trainable_variables, optimizer_variables, metrics_variables)
        state = tuple([v.value for v in variables] for _, variables in groups)
        if purge_model_variables:
            for _, variables in groups:
                for v in variables:
                    v._value = None
        return state

    def _purge_model_variables(
        self, trainable_variables=False, non_trainable_variables=False, optimizer_variables=False, metrics_variables=False
    ):
        for _, variables in self._state_groups(trainable_variables, non_trainable_variables, optimizer_variables, metrics_variables):
            for v in variables:
                v._value = None

    def jax_state_sync(self):
        if not getattr(self, "_jax_state", None) or self._jax_state_synced:
            return
        for name, variables in self._state_groups(True, True, True, True):
            values = self._jax_state.get(name, None)
            if values:
                for variable, value in zip(variables, values):
                    variable.assign(value)
        self._jax_state_synced = True


# --------------------------------------------------------------------------- tf.distribute
def configure_coordination_service(spec, jobs, timeout_seconds):
    """Starts TensorFlow's coordination service with a registration deadline.

    Why: `MultiWorkerMirroredStrategy` waits an hour by default for missing workers and takes no
    timeout argument; the deadline can only be set on the coordination service it configures, through
    TensorFlow's internal eager context. Tested by `tests/distributed/test_cluster_errors.py`.

    Args:
        spec: the `tf.train.ClusterSpec`.
        jobs: names of the jobs to coordinate (e.g. `["worker"]`).
        timeout_seconds: how long workers may take to register.
    """
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.distribute import multi_worker_util
    from tensorflow.python.eager import context

    coordinated = [coordination_config_pb2.CoordinatedJob(name=job, num_tasks=spec.num_tasks(job)) for job in jobs]
    context.context().configure_coordination_service(
        service_type="standalone",
        service_leader=multi_worker_util.coordination_leader(spec),
        coordinated_jobs=coordinated,
        cluster_register_timeout_in_ms=int(timeout_seconds * 1000),
    )


__all__ = [
    "JaxStateHooks",
    "ModelHooks",
    "MetricGroup",
    "configure_coordination_service",
    "flatten_layers",
    "set_direction",
    "take_call_losses",
]

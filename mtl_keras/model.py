"""`MultiTaskModel`: a shared body, a head per task, and a training step that follows the multi-task recipe."""

import keras
import numpy as np

from mtl_keras import _compat
from mtl_keras import samplers as samplers_module
from mtl_keras.label_scaling import LabelScaler
from mtl_keras.layers.base import TaskAwareLayer, check_parts
from mtl_keras.layers.heads import TaskHeads
from mtl_keras.task import Task, as_tasks
from mtl_keras.training import arguments, backend, fitting
from mtl_keras.training.objective import TaskObjective
from mtl_keras.training.trackers import TaskTrackers


@keras.saving.register_keras_serializable(package="mtl_keras")
class MultiTaskModel(_compat.ModelHooks, backend.trainer_class(), keras.Model):
    """A Keras model for several tasks, trained by sampling tasks at every step.

    The model is a `body` (the shared or task-aware layers `θ_sh`) and one head per task
    (`θ_i`). Each training step follows the recipe of the notes:

    1. sample a mini-batch of tasks `B ~ {T_i}` with the `sampler` (uniform by default,
       `tasks_per_step` of them, all tasks by default), reproducibly from `(seed, step)`;
    2. take a mini-batch of data `D_i^b` for every task in `B` (the data streams of
       `mtl_keras.data` build batches for the sampled tasks only, whatever the data-set sizes);
    3. compute `Σ_{i∈B} ω_i L_i(θ, D_i^b)` — only the sampled tasks' parts of the network run —
       with weights from the compiled weighting strategy (fixed `Task.weight` by default), plus
       any regularisation penalty;
    4. back-propagate;
    5. apply the compiled Keras optimizer. Parameters of tasks that are not trained in a step do
       not move: with `tasks_per_step < T` each task's own parameters have their own optimizer
       slots (a copy of the compiled optimizer), updated only when the task is trained.

    Inputs: *multi-input*, a dict `{task_name: x_i}` of one batch per task (data sets of any
    sizes), each through the body and its head; or *shared-input*, one input `x` (a tensor or a
    dict of features not keyed by task) with a label per task: the body runs once.

    `predict` returns a dict by task of probabilities (classification, binary) or values in the
    labels' units (regression). Logs hold `loss`, `<task>_loss`, `<task>_<metric>` (and
    `<task>_weight`, `<layer>_penalty` for adaptive weightings and penalised layers).

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

    def __init__(self, tasks, body=None, heads=None, sampler="uniform", tasks_per_step=None, seed=0, input_shape=None, **kwargs):
        super().__init__(**kwargs)
        self.tasks = as_tasks(tasks)
        self.task_names = [t.name for t in self.tasks]
        num_tasks = len(self.tasks)
        self.body = body
        self.heads = heads if heads is not None else TaskHeads([t.output_units for t in self.tasks], name="heads")
        check_parts(self.body, self.heads, self.task_names)
        arguments.check_body(body), arguments.check_input_shape(input_shape, self.task_names)
        self.tasks_per_step, self.seed = samplers_module.check_sampling(tasks_per_step, seed, num_tasks)
        self.sampler = samplers_module.get(sampler)
        self.sampler.configure(self.task_names)
        scaled = {t.name: t.output_units for t in self.tasks if t.label_scaling}
        self.label_scaler = LabelScaler(scaled, name="label_scaler") if scaled else None
        self.objective = TaskObjective(self.tasks, self.label_scaler)
        self.weighting = None
        self._input_shape_arg = input_shape
        if input_shape is not None:
            self.build(fitting.batch_shapes(input_shape, has_batch=False))

    # ------------------------------------------------------------------ building
    def build(self, input_shape):
        """Creates every variable, calling the model on one example of zeros of `input_shape`.

        Args:
            input_shape: the input shape (with or without the batch axis), or a dict of shapes by
                task in multi-input mode.
        """
        if not hasattr(self, "epoch_origin"):
            #: The optimizer step at which epoch 0 of the current `fit()` began (saved, so a run restored
            #: from a checkpoint knows where its epochs start and resumes mid-epoch exactly).
            self.epoch_origin = self.add_weight(shape=(), initializer="zeros", dtype="int64", trainable=False, name="epoch_origin")
        #: The input shape(s) the model was built for, with the batch axis.
        self.built_input_shape = fitting.batch_shapes(input_shape)
        self.call(fitting.zeros_like_shapes(self.built_input_shape), training=False)
        self.penalty_layers = [
            layer for layer in _compat.flatten_layers(self, include_self=False) if isinstance(layer, TaskAwareLayer) and layer.has_penalty
        ]
        self.built = True

    def is_per_task_input(self, inputs):
        """Whether `inputs` (tensors, specs or shapes) is a dict keyed by task names: multi-input mode.

        A dict whose keys are all task names holds one input per task; any other structure is one
        shared input. Raises a `ValueError` for a dict that mixes task names with other keys.
        """
        return fitting.keyed_by_tasks(inputs, self.task_names)

    # ------------------------------------------------------------------ forward
    def features(self, x, task_index=None, training=False):
        """The body's output on `x`: for task `task_index`, or (`None`) for all tasks at once."""
        if self.body is None:
            return x
        if isinstance(self.body, TaskAwareLayer):
            return self.body(x, task_index=task_index, training=training)
        return self.body(x, training=training)

    def call(self, inputs, training=None, raw=False):
        if self.is_per_task_input(inputs):
            outputs = {
                name: self.heads(self.features(inputs[name], i, training), task_index=i, training=training)
                for i, name in enumerate(self.task_names)
                if name in inputs
            }
        else:
            outputs = dict(zip(self.task_names, self.heads(self.features(inputs, None, training), training=training)))
        if raw:
            return outputs
        return {name: self.finalize_output(self.tasks[self.task_names.index(name)], out) for name, out in outputs.items()}

    def finalize_output(self, task, raw):
        """Maps a task's raw head output to probabilities or original units."""
        if task.kind == "classification":
            return keras.ops.softmax(raw, axis=-1)
        if task.kind == "binary":
            return keras.ops.sigmoid(raw)
        if self.label_scaler is not None and task.name in self.label_scaler.units:
            return self.label_scaler.unscale(task.name, raw)
        return raw

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
        owned |= {id(v) for v in (self.weighting.trainable_variables if self.weighting is not None else [])}
        return [v for v in self.trainable_variables if id(v) not in owned]

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer="adam", weighting=None, loss=None, metrics=None, **kwargs):
        """Configures training.

        Args:
            optimizer: any Keras optimizer or its name. Defaults to `"adam"`.
            weighting: the task-weighting strategy: a registered name (`"static"`, the default,
                uses each `Task.weight`) or a `mtl_keras.weighting.Weighting`.
            loss, metrics: not used: each `Task` carries its loss and metrics. Passing them raises.
            **kwargs: forwarded to `keras.Model.compile` (`jit_compile`, `steps_per_execution`,
                `run_eagerly`, ...). Without `steps_per_execution`, `fit` on a `mtl_keras.data` stream
                runs up to 32 steps per call (a divisor of the epoch; 1 under `tf.distribute`).
        """
        backend.check_compile()
        strategy = fitting.compiled_weighting(self.tasks, weighting, loss, metrics)
        #: `steps_per_execution` left to the model: `fit` on a library stream picks it (see `fitting`).
        self.auto_steps_per_execution = "steps_per_execution" not in kwargs
        super().compile(optimizer=optimizer, **kwargs)
        arguments.check_learning_rate(self.optimizer)
        self.weighting = strategy
        self._compile_kwargs = dict(kwargs)
        penalty_names = [layer.name for layer in getattr(self, "penalty_layers", [])]
        self.trackers = TaskTrackers(self.tasks, self.weighting.adaptive, penalty_names)
        self.updates = backend.updates_class()(self.optimizer, len(self.tasks), sampled=self.tasks_per_step < len(self.tasks))
        #: The per-task optimizer copies (empty when every task trains at every step), saved with the model.
        self.task_optimizers = self.updates.task_optimizers
        if self.built:
            self.build_optimizer()

    def build_optimizer(self):
        """Creates the weighting's and the optimizers' variables (after the model is built)."""
        if not self.weighting.built:  # strategies with per-parameter state need (T, P)
            self.weighting.build((len(self.tasks), sum(int(np.prod(v.shape)) for v in self.shared_variables)))
        self.updates.build(self.trainable_variables, [self.task_variables(i) for i in range(len(self.tasks))])

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
        return self.trackers.metrics if self.compiled else []

    # ------------------------------------------------------------------ fit and evaluate
    def fit(self, x=None, y=None, *args, callbacks=None, terminate_on_nan=True, **kwargs):
        """Trains like `keras.Model.fit`, after checking the data against the tasks.

        The data is checked (labels for every task, shapes and values that fit the heads, finite
        inputs and non-negative sample weights), the model and optimizer are built from it, and
        label scaling statistics are adapted from it if not set yet. Streams of `mtl_keras.data`
        are kept in step with the optimizer (a restored run resumes exactly) and gather only the
        sampled tasks. With `terminate_on_nan=True` (default) training stops on a NaN task loss,
        naming the task.
        """
        if not self.compiled:
            raise RuntimeError("Call compile() before fit().")
        x, y, kwargs, extra_callbacks = fitting.training_data(self, x, y, kwargs, callbacks)
        callbacks = fitting.training_callbacks(self, callbacks, extra_callbacks, terminate_on_nan)
        with fitting.data_errors():
            return super().fit(x, y, *args, callbacks=callbacks, **kwargs)

    def predict(self, x, *args, **kwargs):
        arguments.check_predict_inputs(x, self.task_names, getattr(self, "built_input_shape", None))
        return super().predict(x, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        x, y = fitting.evaluation_data(self, x, y)
        with fitting.data_errors():
            return super().evaluate(x, y, *args, **kwargs)

    def adapt_label_scaling(self, data, steps=100):
        """Sets the mean and standard deviation of tasks with `label_scaling="standard"`.

        Args:
            data: a dict `{task_name: labels}` of arrays, or a data set of `(x, {task: y}, ...)`
                (a stream of `mtl_keras.data` gives all its labels; another data set up to `steps`
                batches). Missing and masked labels are left out.
            steps: batches to read from a data set that is not a `mtl_keras.data` stream.
        """
        if self.label_scaler is None:
            return
        self.label_scaler.adapt(fitting.scaling_labels(self, data, steps))
        self.train_function = self.test_function = self.predict_function = None

    def results_by_task(self, logs, prefix=""):
        """Regroups flat logs (`{"a_loss": .., "a_accuracy": ..}`) into `{task: {metric: value}}`.

        `logs`: e.g. from `evaluate(..., return_dict=True)` or `History.history`; `prefix`: e.g. `"val_"`.
        """
        if not self.compiled:
            raise RuntimeError("Compile the model first: the metric names come from compile().")
        return self.trackers.results_by_task(logs, prefix)

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        """`keras.Model.load_weights`, first checking the file fits (a `ValueError` names the first misfit variable)."""
        if self.built and not skip_mismatch:
            from mtl_keras import saving

            saving.check_weights_match(self, filepath)
        return super().load_weights(filepath, skip_mismatch=skip_mismatch, **kwargs)

    # ------------------------------------------------------------------ config
    def get_config(self):
        return {
            "tasks": [t.get_config() for t in self.tasks],
            "body": keras.saving.serialize_keras_object(self.body) if self.body is not None else None,
            "heads": keras.saving.serialize_keras_object(self.heads),
            "sampler": keras.saving.serialize_keras_object(self.sampler),
            "tasks_per_step": self.tasks_per_step,
            "seed": self.seed,
            "input_shape": self._input_shape_arg,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["tasks"] = [Task.from_config(t) for t in config["tasks"]]
        for key in ("body", "heads", "sampler"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

"""Fine-tuning a trained multi-task model on new tasks, without the source data."""

import math
import numbers

import keras

from mtl_keras.layers.base import TaskAwareLayer
from mtl_keras.layers.heads import TaskHeads
from mtl_keras.model import MultiTaskModel
from mtl_keras.task import as_tasks
from mtl_keras.transfer.groups import body_groups, find_layers, set_trainable
from mtl_keras.transfer.layer_rates import DiscriminativeOptimizer, layer_rates
from mtl_keras.transfer.remap import StackedHeads, TaskRemap
from mtl_keras.transfer.unfreezing import GradualUnfreezing


def _input_shape(model):
    config = model.get_build_config() if model.built else None
    if not config or "input_shape" not in config:
        raise ValueError(
            f"The pre-trained model '{model.name}' must be built (trained, or made with input_shape=...) "
            "before fine-tuning: the new model is built with its input shape."
        )
    return config["input_shape"]


def clone_model(model):
    """A copy of a built `MultiTaskModel` with the same config and weights (no optimizer state).

    Args:
        model: a built `mtl_keras.MultiTaskModel`.

    Returns:
        A new, built `MultiTaskModel`, not compiled.
    """
    shape = _input_shape(model)
    copy = type(model).from_config(model.get_config())
    if not copy.built:
        copy.build(shape)
    # The compiled weighting's state (tracked by the model for checkpoints) is training state, like
    # the optimizer's: the copy is not compiled, so only the network's own weights are copied.
    weighting = getattr(model, "weighting", None)
    skip = {id(v) for v in (weighting.variables if weighting is not None else [])}
    copy.set_weights([v.numpy() for v in model.weights if id(v) not in skip])
    return copy


def reinitialize_layers(layers):
    """Re-initialises layers in place: each weight gets a fresh draw of its layer's initializer.

    A fresh layer is made from the layer's config and built with its build config; its weights
    are copied into the layer's variables (so optimizers and models that hold them still work).

    Args:
        layers: a list of built Keras layers.
    """
    for layer in layers:
        build_config = layer.get_build_config()
        if not build_config:
            raise ValueError(f"Cannot re-initialise layer '{layer.name}': it has no build config (build it first).")
        fresh = type(layer).from_config(layer.get_config())
        fresh.build_from_config(build_config)
        if len(fresh.weights) != len(layer.weights):
            raise ValueError(f"Cannot re-initialise layer '{layer.name}': a fresh copy has different weights.")
        for old, new in zip(layer.weights, fresh.weights):
            old.assign(new.value)


def _resolve_sources(model, source_task, count):
    sources = source_task if isinstance(source_task, (list, tuple)) else [source_task] * count
    if len(sources) != count:
        raise ValueError(f"source_task: give one source task per new task ({count}). Received: source_task={source_task!r}")
    resolved = []
    for s in sources:
        if isinstance(s, str):
            if s not in model.task_names:
                raise ValueError(f"source_task '{s}' is not a task of the pre-trained model: {model.task_names}")
            s = model.task_names.index(s)
        if int(s) != s or not 0 <= s < len(model.tasks):
            raise ValueError(f"source_task must be a task name or an index in [0, {len(model.tasks)}). Received: {s!r}")
        resolved.append(int(s))
    return resolved


class FineTuner:
    """Transfer by fine-tuning: the pre-trained body `θ`, a fresh head per target task, and `φ ← θ − α∇_θ L(θ, D^tr)`.

    The notes' transfer setting: source tasks `T_a` were solved (the model given here); a target
    task `T_b` is solved from the pre-trained parameters `θ` with its own training data
    `D^tr` only, without access to the source data `D_a`. The fine-tuned model is a new
    `MultiTaskModel` whose body is the pre-trained body (weights kept; a copy unless
    `copy=False`) and whose heads are new, freshly initialised `TaskHeads` for the target tasks
    (re-initialising the last layer: the old output layer is fitted to old labels and the
    target's label space may differ). The old heads are dropped from the trained model; with
    `keep_old_heads=True` `full_model` also predicts the old tasks with their unchanged heads
    on the fine-tuned body (they can no longer be trained: no source data).

    Task-aware bodies: a target task continues from a source task's slot (`source_task`): its
    copy for `TaskSpecific` / `SoftSharing`, its id and descriptor for conditioned bodies
    (`FiLM`, `SharedWithTaskId`, ...), whose per-task parameters the target task then owns and
    fine-tunes (see `TaskRemap`). We reuse a source slot rather than add a fresh embedding: a
    trained descriptor is a better start than a random one, and the body's weights never see
    an input they were not trained for.

    Common practices of the notes, as options:

    - a smaller learning rate (`compile(learning_rate=...)`, `1e-4` by default, ~10× below the
      usual Adam rate): large steps would destroy the pre-trained features before the fresh
      head is useful;
    - discriminative rates (`compile(decay=2.6)` or `rates=[...]`): earlier layers hold more
      general features and should move less;
    - freezing early layers (`freeze=`) and gradual unfreezing (`fit(unfreeze="top_down")`):
      train the head on fixed features first, then let more layers adapt;
    - re-initialising the last layer: the heads are always new; `reinitialize=k` also restarts
      the top `k` body groups, whose features are the most source-specific;
    - cross-validated hyper-parameter search: `mtl_keras.transfer.CrossValidatedSearch`.

    Args:
        model: the pre-trained, built `mtl_keras.MultiTaskModel`.
        new_tasks: the target `mtl_keras.Task` (or a list of them); names must differ from the
            pre-trained model's tasks.
        source_task: for task-aware bodies, the source task (name or index, or one per new
            task) whose slot a new task continues from. Defaults to 0. Ignored for plain bodies.
        keep_old_heads: also keep the old heads (in `full_model`). Defaults to False.
        heads: a `TaskAwareLayer` for the new tasks' heads. Defaults to `TaskHeads` like the old
            heads (same tower sizes), freshly initialised.
        freeze: layers that stay frozen: `None` (default), `"body"` (a frozen feature
            extractor), an int `n` (the bottom `n` body groups) or a list of layer names.
        reinitialize: number of top body groups to re-initialise. Defaults to 0.
        copy: fine-tune a copy of the pre-trained weights (default), leaving `model` untouched;
            `False` shares (and changes) its body.
        name: name of the new model.

    Example:

    >>> tuner = FineTuner(pretrained, mk.Task("parity", num_classes=2), freeze=2)
    >>> tuner.compile(learning_rate=1e-4, decay=2.6)
    >>> tuner.fit(mk.data.shared_input_dataset(x, {"parity": y}), epochs=5, unfreeze="top_down")
    >>> tuner.model.predict(x)["parity"]

    Reference:
        Howard & Ruder, "Universal Language Model Fine-tuning for Text Classification", ACL 2018;
        Yosinski et al., "How transferable are features in deep neural networks?", NeurIPS 2014.
    """

    def __init__(
        self,
        model,
        new_tasks,
        *,
        source_task=0,
        keep_old_heads=False,
        heads=None,
        freeze=None,
        reinitialize=0,
        copy=True,
        name=None,
    ):
        if not isinstance(model, MultiTaskModel):
            raise ValueError(f"FineTuner: model must be a mtl_keras.MultiTaskModel. Received: {type(model).__name__}")
        new_tasks = as_tasks([new_tasks] if not isinstance(new_tasks, (list, tuple)) else new_tasks)
        clashes = sorted({t.name for t in new_tasks} & set(model.task_names))
        if clashes:
            raise ValueError(
                f"New task name(s) {clashes} clash with the pre-trained model's tasks {model.task_names}; "
                "give the target task a new name."
            )
        shape = _input_shape(model)
        source = clone_model(model) if copy else model
        self.source = source
        self.tasks = new_tasks
        self.source_tasks = _resolve_sources(source, source_task, len(new_tasks))
        body = source.body
        if isinstance(body, TaskAwareLayer):
            body = TaskRemap(body, self.source_tasks, name=f"{source.body.name}_for_target")
        if heads is None:
            hidden = source.heads.hidden_units if isinstance(source.heads, TaskHeads) else ()
            activation = source.heads.activation if isinstance(source.heads, TaskHeads) else "relu"
            heads = TaskHeads(
                [t.output_units for t in new_tasks],
                hidden_units=hidden,
                activation=activation,
                name="heads_" + "_".join(t.name for t in new_tasks),
            )
        self.heads = heads
        base_name = name or f"{model.name}_fine_tuned"
        self.model = MultiTaskModel(new_tasks, body=body, heads=heads, name=base_name)
        self.model.build(shape)
        if keep_old_heads:
            full_body = source.body
            if isinstance(full_body, TaskAwareLayer):
                full_body = TaskRemap(
                    full_body, list(range(len(source.tasks))) + self.source_tasks, name=f"{source.body.name}_all_tasks"
                )
            self.full_model = MultiTaskModel(
                list(source.tasks) + list(new_tasks),
                body=full_body,
                heads=StackedHeads([source.heads, heads], name="stacked_heads"),
                name=f"{base_name}_all_tasks",
            )
            self.full_model.build(shape)
            self._sync_label_stats(source)
        else:
            self.full_model = self.model
        groups = body_groups(self.model)
        if reinitialize:
            if int(reinitialize) != reinitialize or not 0 <= reinitialize <= len(groups):
                raise ValueError(f"reinitialize must be an integer in [0, {len(groups)}] (body groups). Received: {reinitialize}")
            reinitialize_layers([layer for group in groups[len(groups) - int(reinitialize) :] for layer in group])
        self.frozen = self._freeze(freeze, groups)

    def _freeze(self, freeze, groups):
        if freeze is None:
            return []
        if freeze == "body":
            layers = [layer for group in groups for layer in group]
        elif isinstance(freeze, int) and not isinstance(freeze, bool):
            if not 0 <= freeze <= len(groups):
                raise ValueError(f"freeze={freeze}: the body has {len(groups)} layer groups.")
            layers = [layer for group in groups[:freeze] for layer in group]
        elif isinstance(freeze, (list, tuple)):
            layers = find_layers(self.model, list(freeze))
        else:
            raise ValueError(f"freeze must be None, 'body', an int or a list of layer names. Received: freeze={freeze!r}")
        set_trainable(layers, False)
        return layers

    def _sync_label_stats(self, other):
        """Copies label-scaling statistics of shared task names from `other` into `full_model`."""
        if self.full_model.label_scaler is not None and other.label_scaler is not None:
            self.full_model.label_scaler.copy_statistics(other.label_scaler)

    def compile(self, learning_rate=1e-4, optimizer="adam", decay=None, rates=None, **kwargs):
        """Compiles `model` with a (discriminative) fine-tuning optimizer.

        Args:
            learning_rate: the base rate `α` (the heads' rate). Defaults to `1e-4`.
            optimizer: optimizer name, class config or instance to copy per rate group
                (its learning rate is replaced by `learning_rate`). Defaults to `"adam"`.
            decay: layer-wise decay factor (see `layer_rates`); `None` for one rate.
            rates: explicit multipliers from the top (see `layer_rates`).
            **kwargs: forwarded to `MultiTaskModel.compile` (`weighting`, `jit_compile`, ...).
        """
        if isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real) or not math.isfinite(learning_rate) or learning_rate <= 0:
            raise ValueError(
                f"FineTuner.compile: learning_rate must be a finite number > 0 (a negative rate climbs the loss). "
                f"Received: learning_rate={learning_rate!r}"
            )
        template = keras.optimizers.get(optimizer)
        config = template.get_config()
        config["learning_rate"] = float(learning_rate)
        template = type(template).from_config(config)
        pairs = layer_rates(self.model, decay=decay, rates=rates) if (decay is not None or rates is not None) else []
        self.model.compile(optimizer=DiscriminativeOptimizer(template, rates=pairs), **kwargs)
        return self

    def fit(self, data, epochs=1, unfreeze=None, epochs_per_stage=1, callbacks=None, **kwargs):
        """Fine-tunes `model` on the target data.

        Args:
            data: a `tf.data.Dataset` of `(x, {task: y}, ...)` for the new tasks (see
                `mtl_keras.data`).
            epochs: number of epochs.
            unfreeze: `None`, `"top_down"` or a schedule `{epoch: [layer names]}` for
                `GradualUnfreezing`.
            epochs_per_stage: epochs between unfreezing steps with `"top_down"`.
            callbacks: more Keras callbacks.
            **kwargs: forwarded to `fit` (`validation_data`, `verbose`, ...).

        Returns:
            The `History` of the run.
        """
        if not self.model.compiled:
            self.compile()
        callbacks = list(callbacks or [])
        if unfreeze is not None:
            callbacks.append(GradualUnfreezing(unfreeze, epochs_per_stage=epochs_per_stage))
        history = self.model.fit(data, epochs=epochs, callbacks=callbacks, **kwargs)
        if self.full_model is not self.model:
            self._sync_label_stats(self.model)
        return history


def fine_tune(
    model,
    new_tasks,
    data,
    *,
    epochs=5,
    learning_rate=1e-4,
    optimizer="adam",
    decay=None,
    rates=None,
    freeze=None,
    unfreeze=None,
    epochs_per_stage=1,
    reinitialize=0,
    source_task=0,
    keep_old_heads=False,
    compile_kwargs=None,
    **fit_kwargs,
):
    """Fine-tunes a pre-trained multi-task model on new tasks: `φ ← θ − α ∇_θ L(θ, D^tr)`.

    One call for `FineTuner(...).compile(...).fit(...)`; see `FineTuner` for the options and
    the reasons behind them. The pre-trained model is not changed.

    Args:
        model: the pre-trained, built `mtl_keras.MultiTaskModel`.
        new_tasks: the target `mtl_keras.Task` or a list of them.
        data: training data for the new tasks (a `tf.data.Dataset`, see `mtl_keras.data`).
        epochs: epochs of fine-tuning. Defaults to 5.
        learning_rate: base (head) learning rate. Defaults to `1e-4`.
        optimizer: the optimizer to copy per rate group. Defaults to `"adam"`.
        decay, rates: discriminative rates (see `layer_rates`).
        freeze: layers kept frozen (see `FineTuner`).
        unfreeze: gradual unfreezing schedule (see `GradualUnfreezing`).
        epochs_per_stage: epochs between unfreezing steps with `"top_down"`.
        reinitialize: top body groups to re-initialise.
        source_task: source slot of task-aware bodies (see `FineTuner`).
        keep_old_heads: return a model that also predicts the old tasks.
        compile_kwargs: more arguments of `MultiTaskModel.compile`.
        **fit_kwargs: forwarded to `fit` (`validation_data`, `verbose`, ...).

    Returns:
        The fine-tuned `MultiTaskModel` (with the old tasks too if `keep_old_heads`); the
        training history is in `model.history` of the trained model (`FineTuner.model`).

    Example:

    >>> tuned = fine_tune(pretrained, mk.Task("parity", num_classes=2), data, epochs=5, decay=2.6)
    """
    tuner = FineTuner(
        model,
        new_tasks,
        source_task=source_task,
        keep_old_heads=keep_old_heads,
        freeze=freeze,
        reinitialize=reinitialize,
    )
    tuner.compile(learning_rate=learning_rate, optimizer=optimizer, decay=decay, rates=rates, **(compile_kwargs or {}))
    tuner.fit(data, epochs=epochs, unfreeze=unfreeze, epochs_per_stage=epochs_per_stage, **fit_kwargs)
    tuner.full_model.history = tuner.model.history
    return tuner.full_model

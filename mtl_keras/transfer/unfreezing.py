"""Gradual unfreezing: a Keras callback that makes more layers trainable as epochs pass."""

import keras

from mtl_keras.transfer.groups import body_groups, find_layers, set_trainable


@keras.saving.register_keras_serializable(package="mtl_keras")
class GradualUnfreezing(keras.callbacks.Callback):
    """Unfreezes layers on a schedule during `fit` (ULMFiT's gradual unfreezing).

    Fine-tuning every layer at once lets the large, noisy gradients of a fresh head wreck the
    pre-trained features ("catastrophic forgetting"). Gradual unfreezing first trains the head
    alone on the frozen features, then unfreezes one more layer group per stage from the top
    (the most task-specific layers) down, so each layer starts moving once the layers above
    it have settled.

    The schedule is either

    - a dict `{epoch: [layer names]}`: at the start of `epoch` (0-based, as counted by `fit`)
      the named layers become trainable. Every named layer is frozen when training begins
      (`freeze_at_start=True`); layers not named keep their `trainable` setting;
    - `"top_down"` (default): the body's layer groups (`body_groups`) are frozen at the start,
      the heads train alone for `epochs_per_stage` epochs, then one more group from the top is
      unfrozen every `epochs_per_stage` epochs.

    Epochs are those `fit` counts: a run resumed with `initial_epoch` (as `BackupAndRestore` does
    after an interruption) starts with every stage due by then unfrozen. A new `fit` call without
    `initial_epoch` counts from 0 and so starts the schedule again.

    Changing `trainable` changes the list of trained variables, so the callback rebuilds the
    training function (`model.make_train_function(force=True)`) and adds the new variables to
    the optimizer, which must be able to take them: a `DiscriminativeOptimizer` (any rate
    layout, also a single rate; `FineTuner.compile` uses one).

    Args:
        schedule: `"top_down"` or a dict `{epoch: [layer names]}`.
        epochs_per_stage: with `"top_down"`, epochs between two unfreezing steps. Defaults to 1.
        freeze_at_start: freeze the scheduled layers at the start of training. Defaults to True.
        verbose: print each unfreezing step.

    Example:

    >>> tuner = FineTuner(pretrained, [mk.Task("target", num_classes=2)])
    >>> tuner.compile(learning_rate=1e-3)
    >>> tuner.model.fit(data, epochs=4, callbacks=[GradualUnfreezing("top_down")])

    Reference:
        Howard & Ruder, "Universal Language Model Fine-tuning for Text Classification", ACL 2018.
    """

    def __init__(self, schedule="top_down", epochs_per_stage=1, freeze_at_start=True, verbose=0):
        super().__init__()
        if schedule != "top_down" and not isinstance(schedule, dict):
            raise ValueError(f"GradualUnfreezing: schedule must be 'top_down' or a dict {{epoch: [layer names]}}. Received: schedule={schedule!r}")
        if isinstance(schedule, dict):
            bad = [e for e in schedule if int(e) != e or e < 0]
            if bad:
                raise ValueError(f"GradualUnfreezing: schedule epochs must be integers >= 0. Received: {bad}")
            schedule = {int(e): [names] if isinstance(names, str) else list(names) for e, names in schedule.items()}
        if int(epochs_per_stage) != epochs_per_stage or epochs_per_stage < 1:
            raise ValueError(f"GradualUnfreezing: epochs_per_stage must be a positive integer. Received: epochs_per_stage={epochs_per_stage}")
        self.schedule = schedule
        self.epochs_per_stage = int(epochs_per_stage)
        self.freeze_at_start = bool(freeze_at_start)
        self.verbose = verbose
        self.unfrozen = {}  # epoch -> names unfrozen then (a log of what happened)

    def resolve(self, model):
        """The schedule as `{epoch: [layers]}` for `model`; raises on unknown layer names.

        Raises:
            ValueError: if the schedule names layers the model does not have.
        """
        if self.schedule == "top_down":
            groups = body_groups(model)[::-1]
            return {(k + 1) * self.epochs_per_stage: group for k, group in enumerate(groups)}
        return {epoch: find_layers(model, names) for epoch, names in sorted(self.schedule.items())}

    def on_train_begin(self, logs=None):
        self._plan = self.resolve(self.model)
        if not hasattr(self.model.optimizer, "add_variables"):
            raise ValueError(
                "GradualUnfreezing needs an optimizer that can take variables unfrozen during training: compile with "
                "mtl_keras.transfer.DiscriminativeOptimizer(optimizer) (a single rate is fine) or FineTuner.compile. "
                f"Received: optimizer={type(self.model.optimizer).__name__}"
            )
        if self.freeze_at_start:
            for epoch, layers in self._plan.items():
                if epoch > 0:
                    set_trainable(layers, False)
        self._refresh()

    def on_epoch_begin(self, epoch, logs=None):
        # Everything due by this epoch, not only at it: a resumed run (`initial_epoch`, or
        # `BackupAndRestore` after an interruption) starts past earlier stages.
        layers = [layer for due, group in self._plan.items() if due <= epoch for layer in group if not layer.trainable]
        if not layers:
            return
        set_trainable(layers, True)
        self.unfrozen[epoch] = [layer.name for layer in layers]
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: GradualUnfreezing unfroze {self.unfrozen[epoch]}")
        self._refresh()

    def _refresh(self):
        model = self.model
        task_ids = set()
        for i, optimizer in enumerate(getattr(model, "task_optimizers", None) or []):
            variables = model.task_variables(i)
            task_ids |= {id(v) for v in variables}
            if hasattr(optimizer, "add_variables"):
                optimizer.add_variables(variables)
        model.optimizer.add_variables([v for v in model.trainable_variables if id(v) not in task_ids])
        model.make_train_function(force=True)

    def get_config(self):
        return {
            "schedule": self.schedule,
            "epochs_per_stage": self.epochs_per_stage,
            "freeze_at_start": self.freeze_at_start,
            "verbose": self.verbose,
        }

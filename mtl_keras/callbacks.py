"""Keras callbacks for multi-task training."""

import math

import keras


class TerminateOnNaNTask(keras.callbacks.Callback):
    """Stops training when a task's loss becomes NaN or infinite, and names the task.

    Like `keras.callbacks.TerminateOnNaN`, but per task: it reads every `<task>_loss` in the logs
    after each batch, and a task whose loss is not finite although it had labelled examples (a
    task without any logs NaN on purpose) is named. `MultiTaskModel.fit` adds it unless told not to.

    Args:
        raise_error: raise a `FloatingPointError` instead of stopping quietly. Defaults to False.

    Attributes:
        nan_task: name of the task whose loss was not finite, or `None`.
    """

    async_safe = True

    def __init__(self, raise_error=False):
        super().__init__()
        if not isinstance(raise_error, bool):
            raise ValueError(f"TerminateOnNaNTask: raise_error must be True or False. Received: raise_error={raise_error!r}")
        self.raise_error = raise_error
        self.nan_task = None
        self._names = None
        # On JAX, Keras runs async-safe callbacks in a thread while the next steps run; a NaN check
        # reads the trackers' totals, which the running steps hold, so it runs in step there.
        self.async_safe = keras.backend.backend() != "jax"

    def on_train_begin(self, logs=None):
        # Read once: on JAX every access to `self.model` copies the training state into the model.
        self._names = list(getattr(self.model, "task_names", []))

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        names = self._names if self._names is not None else getattr(self.model, "task_names", [])
        bad = [n for n in names if f"{n}_loss" in logs and not math.isfinite(float(logs[f"{n}_loss"]))]
        if not bad or self.nan_task is not None:
            return
        trackers = getattr(self.model, "trackers", None)
        # A NaN in one replica's logs may only mean it had no example of the task: check the totals.
        diverged = [n for n in bad if n in trackers.diverged_tasks()] if trackers is not None else bad
        if not diverged:
            return
        self.nan_task = diverged[0]
        message = f"Batch {batch}: task '{self.nan_task}' has an invalid loss ({logs[f'{self.nan_task}_loss']}); terminating training."
        print(message)
        self.model.stop_training = True
        if self.raise_error:
            raise FloatingPointError(message)


class SyncDataPosition(keras.callbacks.Callback):
    """Starts a step-indexed stream at the model's current step when training starts.

    `mtl_keras.data` streams are indexed by the training step (the batch at step `s` depends only
    on the seed and `s`). `MultiTaskModel.fit` iterates one endless stream for the whole run; when
    training starts, this callback sets the stream's position to the optimizer's step count, so a
    run restored from a checkpoint (e.g. by `keras.callbacks.BackupAndRestore`) continues with
    exactly the batches an uninterrupted run would have used. A run restored in the middle of an
    epoch (a checkpoint saved every few batches) finishes that epoch with the steps it had left:
    `SyncDataPositionExact` ends it there, or, when several steps run per call, the stream fills
    the epoch with idle steps that the model skips. `MultiTaskModel.fit` adds it, first among the
    callbacks.

    Args:
        stream: the `mtl_keras.data.stream.ArrayStream`.
        steps_per_epoch: the steps of one epoch.
    """

    def __init__(self, stream, steps_per_epoch):
        super().__init__()
        self.stream = stream
        self.steps_per_epoch = int(steps_per_epoch)
        self._steps_left = None
        self._cut = False
        self._started = False

    def on_train_begin(self, logs=None):
        self._started = False

    def on_epoch_begin(self, epoch, logs=None):
        if self._started:
            return
        self._started = True
        step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        start = int(keras.ops.convert_to_numpy(self.model.epoch_origin)) + epoch * self.steps_per_epoch
        left = start + self.steps_per_epoch - step
        self.stream.position.assign(step)
        partial = 0 < left < self.steps_per_epoch
        self.stream.next_pass_steps.assign(left if partial else -1)
        idle = self.steps_per_epoch - left if partial and self.model.steps_per_execution > 1 else 0
        self.stream.next_pass_idle.assign(idle)
        self._steps_left = left if partial and not idle else None

    def on_epoch_end(self, epoch, logs=None):
        if self._cut:  # the epoch was cut short by this callback, not stopped by another
            self.model.stop_training = False
            self._cut = False


class SyncDataPositionExact(SyncDataPosition):
    """`SyncDataPosition` that also ends a restored partial epoch after its last step.

    `MultiTaskModel.fit` uses it when a `keras.callbacks.BackupAndRestore` may restore the run in
    the middle of an epoch (it reads every batch's end, which keeps Keras from running callbacks
    in the background, so it is not used otherwise).
    """

    def on_train_batch_end(self, batch, logs=None):
        if self._steps_left is not None and batch + 1 >= self._steps_left:
            self._steps_left = None
            if not self.model.stop_training:
                self.model.stop_training = True
                self._cut = True

"""Keras callbacks for multi-task training."""

import keras
import numpy as np


class TerminateOnNaNTask(keras.callbacks.Callback):
    """Stops training when a task's loss becomes NaN or infinite, and names the task.

    Like `keras.callbacks.TerminateOnNaN`, but per task: the model counts, inside its training
    step, the steps at which each trained task's loss was not finite, and this callback reads the
    counts after every batch (in Keras's callback thread, so the training loop does not wait for
    it). `MultiTaskModel.fit` adds it unless told not to.

    Args:
        raise_error: raise a `FloatingPointError` instead of stopping quietly. Defaults to False.

    Attributes:
        nan_task: name of the task whose loss was not finite, or `None`.
    """

    async_safe = True

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error
        self.nan_task = None

    def on_train_batch_end(self, batch, logs=None):
        trackers = getattr(self.model, "trackers", None)
        if trackers is None or self.nan_task is not None:
            return
        counts = np.asarray(keras.ops.convert_to_numpy(trackers.nonfinite.counts))
        if not (counts > 0).any():
            return
        self.nan_task = self.model.task_names[int(np.flatnonzero(counts > 0)[0])]
        value = (logs or {}).get(f"{self.nan_task}_loss", float("nan"))
        message = f"Batch {batch}: task '{self.nan_task}' has an invalid loss ({value}); terminating training."
        print(message)
        self.model.stop_training = True
        if self.raise_error:
            raise FloatingPointError(message)


class SyncDataPosition(keras.callbacks.Callback):
    """Starts every epoch of a step-indexed stream at the model's current step.

    `mtl_keras.data` streams are indexed by the training step (the batch at step `s` depends only
    on the seed and `s`). At each epoch start this callback sets the stream's position to the
    optimizer's step count, so training restored from a checkpoint (e.g. by
    `keras.callbacks.BackupAndRestore`) continues with exactly the batches an uninterrupted run
    would have used. A run restored in the middle of an epoch (a checkpoint saved every few
    batches) finishes that epoch with the steps it had left: the stream marks the rest of the
    pass idle (`SyncDataPositionExact` also ends the epoch there). `MultiTaskModel.fit` adds it for
    such streams, first among the callbacks.

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

    def on_epoch_begin(self, epoch, logs=None):
        step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        start = int(keras.ops.convert_to_numpy(self.model.epoch_origin)) + epoch * self.steps_per_epoch
        left = start + self.steps_per_epoch - step
        self.stream.position.assign(step)
        partial = 0 < left < self.steps_per_epoch
        self.stream.pass_data_steps.assign(left if partial else -1)
        self._steps_left = left if partial else None

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

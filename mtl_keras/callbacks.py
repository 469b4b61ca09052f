"""Keras callbacks for multi-task training."""

import math

import keras


class TerminateOnNaNTask(keras.callbacks.Callback):
    """Stops training when a task's loss becomes NaN or infinite, and names the task.

    Like `keras.callbacks.TerminateOnNaN`, but it reads every `<task>_loss` in the logs so the
    message says which task diverged. `MultiTaskModel.fit` adds it unless told not to.

    Args:
        raise_error: raise a `FloatingPointError` instead of stopping quietly. Defaults to False.

    Attributes:
        nan_task: name of the task whose loss was not finite, or `None`.
    """

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error
        self.nan_task = None

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        for name in getattr(self.model, "task_names", []):
            value = logs.get(f"{name}_loss")
            if value is None:
                continue
            value = float(value)
            if math.isnan(value) or math.isinf(value):
                self.nan_task = name
                message = f"Batch {batch}: task '{name}' has an invalid loss ({value}); terminating training."
                print(message)
                self.model.stop_training = True
                if self.raise_error:
                    raise FloatingPointError(message)
                return


class SyncDataPosition(keras.callbacks.Callback):
    """Starts every epoch of a step-indexed stream at the model's current step.

    `mtl_keras.data.multitask_dataset` streams are indexed by the training step (the batch at
    step `s` depends only on the seed and `s`). At each epoch start this callback sets the
    stream's position to `optimizer.iterations`, so training restored from a checkpoint (e.g. by
    `keras.callbacks.BackupAndRestore`) continues with exactly the batches an uninterrupted run
    would have used. `MultiTaskModel.fit` adds it for such streams.

    Args:
        position: the stream's position variable (`dataset.mtl_position`).
    """

    def __init__(self, position):
        super().__init__()
        self.position = position

    def on_epoch_begin(self, epoch, logs=None):
        self.position.assign(int(self.model.optimizer.iterations.numpy()))

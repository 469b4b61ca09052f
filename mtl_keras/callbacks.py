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

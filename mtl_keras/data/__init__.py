"""Multi-task data streams: one mini-batch per task per step, whatever the data-set sizes.

Two modes:

- **multi-input** (`multitask_dataset`): each task has its own data set `D_i = (x_i, y_i)`,
  of any size; each step yields one batch per task: `({task: x_i}, {task: y_i}, {task: w_i})`.
- **shared-input** (`shared_input_dataset`): one input with a label per task (e.g. several
  attributes of one image): `(x, {task: y_i}, {task: mask_i})`. Missing labels are masked with
  a mask array or with the task's `missing_label`.

Both serve in-memory arrays batch by batch and index every batch by the training step (see
`mtl_keras.data.stream`); `repeat=False` makes an evaluation pass over every example once.
`split` cuts per-task arrays into parts; `mtl_keras.data.checks` holds the checks every stream
and `MultiTaskModel.fit` run on the data.
"""

from mtl_keras.data.multitask import multitask_dataset
from mtl_keras.data.shared_input import shared_input_dataset
from mtl_keras.data.split import split

__all__ = ["multitask_dataset", "shared_input_dataset", "split"]

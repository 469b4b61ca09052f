"""Which tasks to train together: inter-task affinity, task grouping and training diagnostics.

- `TaskAffinity` (callback) and `task_affinity` (one-off): TAG's lookahead affinity `Z_{i→j}`.
- `group_tasks`: the groups of tasks that maximise total affinity for a number of networks.
- `TrainingDiagnostics` (callback): per-task gradient norms, gradient cosines and conflicts, task
  weights and expert utilisation, written for TensorBoard.
"""

from mtl_keras.diagnostics.affinity import AffinityProbe, TaskAffinity, task_affinity
from mtl_keras.diagnostics.grouping import Grouping, group_tasks, total_score
from mtl_keras.diagnostics.heatmap import save_heatmap
from mtl_keras.diagnostics.training import TrainingDiagnostics

__all__ = [
    "AffinityProbe",
    "Grouping",
    "TaskAffinity",
    "TrainingDiagnostics",
    "group_tasks",
    "save_heatmap",
    "task_affinity",
    "total_score",
]

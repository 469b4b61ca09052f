"""Which tasks to train together: inter-task affinity, task grouping and training diagnostics.

- `TaskAffinity` (callback) and `task_affinity` (one-off): TAG's lookahead affinity `Z_{i→j}`.
- `group_tasks`: the groups of tasks that maximise total affinity for a number of networks.
- `TrainingDiagnostics` (callback): per-task gradient norms, gradient cosines and conflicts, task
  weights and expert utilisation, written for TensorBoard.
- `mtl-keras affinity` (`mtl_keras.diagnostics.cli`): all of it on a benchmark, from the shell.

Names are loaded on first use, so `mtl-keras affinity --help` imports no TensorFlow.
"""

from mtl_keras._lazy import lazy_attributes

_AFFINITY = ("AffinityProbe", "TaskAffinity", "task_affinity")
_GROUPING = ("Grouping", "group_tasks", "total_score")
_HEATMAP = ("heatmap_image", "save_heatmap")
_TRAINING = ("TrainingDiagnostics", "expert_utilisation")
__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        **dict.fromkeys(_AFFINITY, ".affinity"),
        **dict.fromkeys(_GROUPING, ".grouping"),
        **dict.fromkeys(_HEATMAP, ".heatmap"),
        **dict.fromkeys(_TRAINING, ".training"),
    },
    ("affinity", "cli", "experiment", "grouping", "heatmap", "training"),
)

__all__ = [*_AFFINITY, *_GROUPING, *_HEATMAP, *_TRAINING]

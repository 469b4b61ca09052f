# ruff: noqa
"""Bad-input probe (see harness.py): prints one line per case: ACCEPTED (and what came back) or the error, its type and where it was raised."""
import sys, os, tempfile; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import case
import numpy as np, keras
import mtl_keras as mk
rng = np.random.default_rng(0)
X = rng.normal(size=(8, 3)).astype("float32"); YC = (X[:, 0] > 0).astype("int32"); YR = X[:, 1].copy()
TASKS = [mk.Task("cls", num_classes=2), mk.Task("reg", kind="regression")]
def M(tasks=TASKS, **kw):
    return mk.MultiTaskModel(tasks, body=keras.Sequential([keras.layers.Dense(4)]), input_shape=(3,), **kw)
W = mk.weighting
def comp(w):
    m = M(); m.compile(optimizer="sgd", weighting=w); m.fit(X, {"cls": YC, "reg": YR}, batch_size=4, verbose=0); return [float(v) for v in getattr(m.weighting, "values", [])] if hasattr(m, "weighting") else "ok"
static = getattr(W, "StaticWeighting", None) or getattr(W, "Static", None)
print("static class", static)
case("static wrong len", lambda: comp(static([1.0])))
case("static too many", lambda: comp(static([1.0, 2.0, 3.0])))
case("static negative", lambda: comp(static([-1.0, 1.0])))
case("static nan", lambda: comp(static([float("nan"), 1.0])))
case("static dict unknown", lambda: comp(static({"cls": 1.0, "zzz": 2.0})))
case("static dict missing", lambda: comp(static({"cls": 2.0})))
case("static str", lambda: comp(static("1,2")))
S = mk.samplers
print([n for n in dir(S) if not n.startswith("_")])
case("proportional alpha neg", lambda: S.ProportionalSampler([10, 20], alpha=-1))
case("proportional alpha nan", lambda: S.ProportionalSampler([10, 20], alpha=float("nan")))
case("proportional sizes zero", lambda: S.ProportionalSampler([0, 20]))
case("proportional sizes neg", lambda: S.ProportionalSampler([-5, 20]))
case("proportional sizes nan", lambda: S.ProportionalSampler([float("nan"), 20]))
case("proportional sizes empty", lambda: S.ProportionalSampler([]))
case("proportional sizes dict", lambda: S.ProportionalSampler({"cls": 10, "reg": 20}))
case("proportional sizes wrong T at model", lambda: M(sampler=S.ProportionalSampler([10, 20, 30]), tasks_per_step=1))
case("proportional sizes dict unknown task at model", lambda: M(sampler=S.ProportionalSampler({"cls": 10, "zzz": 20}), tasks_per_step=1))
case("annealed total_steps 0", lambda: S.AnnealedSampler([10, 20], total_steps=0))
case("annealed total_steps -1", lambda: S.AnnealedSampler([10, 20], total_steps=-1))
case("annealed total_steps float", lambda: S.AnnealedSampler([10, 20], total_steps=2.5))
case("annealed start<end?", lambda: S.AnnealedSampler([10, 20], total_steps=10, start_alpha=0.2, end_alpha=1.0) )
case("uniform with args", lambda: S.UniformSampler(5))
case("sampler str unknown", lambda: M(sampler="proportional", tasks_per_step=1))
from mtl_keras import zoo
case("zoo unknown", lambda: zoo.create_model("hard_sharing_mpl", tasks=TASKS, input_shape=(3,)))
case("zoo num units 0", lambda: zoo.create_model("hard_sharing_mlp", tasks=TASKS, input_shape=(3,), units=(0,)))
case("zoo units neg", lambda: zoo.create_model("hard_sharing_mlp", tasks=TASKS, input_shape=(3,), units=(-4,)))
case("zoo units float", lambda: zoo.create_model("hard_sharing_mlp", tasks=TASKS, input_shape=(3,), units=(4.5,)))
case("zoo units int not tuple", lambda: zoo.create_model("hard_sharing_mlp", tasks=TASKS, input_shape=(3,), units=8))
case("zoo units empty", lambda: zoo.create_model("hard_sharing_mlp", tasks=TASKS, input_shape=(3,), units=()))
case("zoo unknown kwarg", lambda: zoo.create_model("hard_sharing_mlp", tasks=TASKS, input_shape=(3,), unitz=(4,)))
case("zoo tasks empty", lambda: zoo.create_model("hard_sharing_mlp", tasks=[], input_shape=(3,)))
case("zoo no input_shape", lambda: zoo.create_model("hard_sharing_mlp", tasks=TASKS))
case("zoo mmoe experts 0", lambda: zoo.create_model("mmoe_mlp", tasks=TASKS, input_shape=(3,), num_experts=0))
case("zoo mmoe experts -1", lambda: zoo.create_model("mmoe_mlp", tasks=TASKS, input_shape=(3,), num_experts=-1))
case("zoo dropout 1.5", lambda: zoo.create_model("hard_sharing_mlp", tasks=TASKS, input_shape=(3,), dropout=1.5))
case("zoo conv on vector", lambda: zoo.create_model("hard_sharing_conv", tasks=TASKS, input_shape=(3,)))
case("zoo pooling bad", lambda: zoo.create_model("hard_sharing_conv", tasks=TASKS, input_shape=(8, 8, 1), pooling="max"))
case("zoo dselect k 0", lambda: zoo.create_model("dselect_k_mlp", tasks=TASKS, input_shape=(3,), k=0))
case("zoo dselect k > experts", lambda: zoo.create_model("dselect_k_mlp", tasks=TASKS, input_shape=(3,), k=50))
case("zoo soft lambda neg", lambda: zoo.create_model("soft_sharing_mlp", tasks=TASKS, input_shape=(3,), penalty=-1.0))
case("zoo list bad pattern", lambda: zoo.list_models(3))
case("zoo describe unknown", lambda: zoo.describe_model("nope"))
L = mk.layers
case("MMoE num_experts 0", lambda: L.MMoE(num_tasks=2, num_experts=0, expert_units=4))
case("TaskEmbedding num_tasks 0", lambda: L.TaskEmbedding(num_tasks=0))
case("TaskHeads empty", lambda: L.TaskHeads([]))
case("TaskHeads 0 units", lambda: L.TaskHeads([0, 1]))
case("FiLM num_tasks 0", lambda: L.FiLM(num_tasks=0))
case("CrossStitch num_tasks 1", lambda: L.CrossStitch(num_tasks=1))
case("SoftSharing lambda neg", lambda: L.SoftSharing(keras.layers.Dense(4), num_tasks=2, penalty=-1.0))
case("DSelectK k 0", lambda: L.DSelectK(num_tasks=2, num_experts=4, k=0, expert_units=4))

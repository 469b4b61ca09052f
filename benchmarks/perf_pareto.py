"""One preference-conditioned model against 11 separately trained fixed-weight models: front quality and cost.

On two-task benchmarks (`multi_digits` with its two digit tasks, `mmoe_synthetic`), per seed:

- *fixed weights*: 11 hard-sharing MLPs, one per weight vector `w ∈ {(0, 1), (0.1, 0.9), ..., (1, 0)}`,
  each trained `--epochs` epochs on `Σ w_i L_i`;
- *preference model*: one `PreferenceModel` (the same MLP widths, FiLM on the preference `r`) trained
  `--pref-epochs` epochs with `r ~ Dirichlet(α)` per step, then evaluated at the same 11 vectors.

Reported per benchmark (mean ± std over seeds): the hypervolume ratio `HV(preference) / HV(fixed)` of
the test-loss fronts, both with the same reference point (per task the worst test loss of the two
sets plus 10 % of the spread; `mtl_keras.pareto.reference_point`) — target >= 0.95 — and the
training-time ratio `time(preference model) / time(11 fixed models)` (wall clock of `fit`, measured
side by side in this process) — target <= 0.2. The fronts of the first seed are drawn in
`benchmarks/figures/pareto_<benchmark>.png`; the raw numbers with `--json FILE`.

Run: `python -m mtl_keras.benchmarks.perf_pareto [--seeds 0,1,2 --epochs 8 --pref-epochs 12]`.
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import mtl_keras as mk  # noqa: E402
from mtl_keras.benchmarks import datasets  # noqa: E402
from mtl_keras.pareto import PreferenceBody, PreferenceModel, hypervolume, plot_front, reference_point, simplex_grid  # noqa: E402
from mtl_keras.weighting.static import StaticWeighting  # noqa: E402

FIGURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures")


def load(name, seed, num_train):
    if name == "multi_digits":
        return datasets.load_benchmark(name, seed=seed, num_train=num_train, attributes=False)
    return datasets.load_benchmark(name, seed=seed, num_train=num_train)


def fixed_model(bench, units, seed):
    layers = [keras.layers.Flatten()] + [keras.layers.Dense(u, activation="relu") for u in units]
    return mk.MultiTaskModel(bench.tasks, body=keras.Sequential(layers), input_shape=bench.input_shape, seed=seed)


def test_losses(model, bench, **kwargs):
    x, y = bench.splits["test"]
    logs = model.evaluate(x, y, batch_size=512, verbose=0, return_dict=True, **kwargs)
    return [float(logs[f"{name}_loss"]) for name in bench.task_names]


def run_seed(name, seed, args):
    bench = load(name, seed, args.num_train)
    x, y = bench.splits["train"]
    grid = simplex_grid(2, args.points)
    fixed, fixed_seconds = [], 0.0
    for w in grid:
        keras.utils.set_random_seed(seed)
        model = fixed_model(bench, args.units, seed)
        model.compile(optimizer=keras.optimizers.Adam(args.lr), weighting=StaticWeighting(list(w)))
        start = time.perf_counter()
        model.fit(x, y, epochs=args.epochs, batch_size=args.batch_size, verbose=0)
        fixed_seconds += time.perf_counter() - start
        fixed.append(test_losses(model, bench))
    keras.utils.set_random_seed(seed)
    body = PreferenceBody(len(bench.tasks), backbone="mlp", units=args.units)
    model = PreferenceModel(bench.tasks, body=body, alpha=args.alpha, cosine_weight=args.cosine_weight, seed=seed, input_shape=bench.input_shape)
    model.compile(optimizer=keras.optimizers.Adam(args.lr))
    start = time.perf_counter()
    model.fit(x, y, epochs=args.pref_epochs, batch_size=args.batch_size, verbose=0)
    pref_seconds = time.perf_counter() - start
    preference = [test_losses(model, bench, preference=r) for r in grid]
    fixed, preference = np.asarray(fixed), np.asarray(preference)
    reference = reference_point(fixed, preference)
    ratio = hypervolume(preference, reference) / hypervolume(fixed, reference)
    return {"fixed": fixed.tolist(), "preference": preference.tolist(), "reference": reference.tolist(),
            "hv_ratio": ratio, "time_ratio": pref_seconds / fixed_seconds,
            "fixed_seconds": fixed_seconds, "preference_seconds": pref_seconds, "task_names": bench.task_names}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmarks", default="multi_digits,mmoe_synthetic")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=8, help="epochs of each fixed-weight model")
    parser.add_argument("--pref-epochs", type=int, default=12, help="epochs of the preference model")
    parser.add_argument("--num-train", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--units", default="64,64")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--cosine-weight", type=float, default=0.1)
    parser.add_argument("--points", type=int, default=11)
    parser.add_argument("--json", default=None, help="also write the raw results to this file")
    args = parser.parse_args(argv)
    args.units = tuple(int(u) for u in args.units.split(","))
    seeds = [int(s) for s in args.seeds.split(",")]
    os.makedirs(FIGURES, exist_ok=True)
    print(f"settings: {vars(args)}", flush=True)
    everything = {}
    for name in args.benchmarks.split(","):
        results = []
        for seed in seeds:
            result = run_seed(name, seed, args)
            results.append(result)
            print(f"{name} seed {seed}: HV ratio {result['hv_ratio']:.3f}, time ratio {result['time_ratio']:.3f} "
                  f"({result['preference_seconds']:.1f} s vs {result['fixed_seconds']:.1f} s)", flush=True)
        first = results[0]
        path = os.path.join(FIGURES, f"pareto_{name}.png")
        plot_front({"11 fixed-weight models": first["fixed"], "1 preference model at 11 r": first["preference"]},
                   first["task_names"], path, title=f"{name} (seed {seeds[0]}): test-loss fronts")
        hv = np.array([r["hv_ratio"] for r in results])
        tr = np.array([r["time_ratio"] for r in results])
        print(f"{name}: hypervolume ratio {hv.mean():.3f} ± {hv.std():.3f} (target >= 0.95); "
              f"training-time ratio {tr.mean():.3f} ± {tr.std():.3f} (target <= 0.2); figure {path}", flush=True)
        everything[name] = results
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"settings": {k: v for k, v in vars(args).items()}, "results": everything}, f, indent=1)


if __name__ == "__main__":
    main()

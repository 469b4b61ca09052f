"""What a benchmark run trains: the `BenchmarkRun` configuration, name checks and presets."""

import ast
import dataclasses
import math
import os
import tempfile

#: Value of `BenchmarkRun.baseline` that picks, for every model, the `independent` zoo model of
#: the same backbone and size (e.g. `hard_sharing_mlp_small` -> `independent_mlp_small`).
MATCHED = "matched"


class BenchmarkConfigError(ValueError):
    """A benchmark run configuration names something unknown or cannot write its results."""


@dataclasses.dataclass(frozen=True)
class BenchmarkSpec:
    """One benchmark of a run: a registered name plus loader options (e.g. `p=0.9`).

    Args:
        name: a registered benchmark name (see `mtl_keras.benchmarks.datasets.list_benchmarks`).
        options: a tuple of `(key, value)` pairs passed to the loader.
    """

    name: str
    options: tuple = ()

    @property
    def label(self):
        """`name` or `name:key=value:key=value`, the benchmark's key in results and tables."""
        if not self.options:
            return self.name
        return ":".join([self.name] + [f"{k}={_format_value(v)}" for k, v in self.options])

    @classmethod
    def parse(cls, spec):
        """Parses `"mmoe_synthetic"`, `"mmoe_synthetic:p=0.9"` or `"multi_digits:num_train=500:overlap=3"`.

        Values are read as Python literals (`0.9`, `500`, `(1.0, 100.0)`, `'sum'`); anything that
        is not a literal is kept as a string.
        """
        if isinstance(spec, BenchmarkSpec):
            return spec
        if isinstance(spec, (tuple, list)) and len(spec) == 2 and isinstance(spec[1], dict):
            return cls(str(spec[0]), tuple(sorted(spec[1].items())))
        name, options = parse_named_options(spec, "Benchmark", "mmoe_synthetic:p=0.9")
        return cls(name, tuple(sorted(options.items())))


def parse_named_options(text, kind, example):
    """Splits `"name:key=value[:key=value]"` into `(name, {key: value})`.

    Values are read as Python literals (`0.9`, `500`, `True`, `(1.0, 100.0)`, `'sum'`); anything
    that is not a literal is kept as a string; lists become tuples.
    """
    text = str(text).strip()
    parts = _split_top_level(text, ":")
    name, options = parts[0].strip(), {}
    for part in parts[1:]:
        key, sep, value = part.partition("=")
        if not sep or not key.strip().isidentifier():
            raise BenchmarkConfigError(
                f"{kind} '{text}': options are written `name:key=value[:key=value]`, e.g. "
                f"'{example}'. Could not read the option {part!r}."
            )
        value = _literal(value.strip())
        options[key.strip()] = tuple(value) if isinstance(value, list) else value
    return name, options


def build_weighting(label):
    """The weighting strategy of a run from its label: a name, or `name:key=value[:key=value]`.

    E.g. `"pcgrad"`, `"cagrad:c=0.4"`, `"pcgrad:uses_representation=True"` (per-task gradients with
    respect to the shared representation). Raises `BenchmarkConfigError` for unknown names and
    options the strategy does not take or refuses.
    """
    from mtl_keras import weighting

    name, options = parse_named_options(label, "Weighting", "cagrad:c=0.4")
    cls = weighting.WEIGHTINGS.get(name)
    try:
        return cls(**options)
    except (TypeError, ValueError) as error:  # an option it does not take, or a refused value
        raise BenchmarkConfigError(f"Weighting '{label}': {error}") from None


@dataclasses.dataclass
class BenchmarkRun:
    """A grid of training runs: benchmarks × models × weightings × seeds, plus single-task baselines.

    Every (benchmark, model, weighting, seed) is trained for `epochs` epochs on the benchmark's
    train split (validation split monitored every epoch) and evaluated on its test split. For each
    (benchmark, seed) the single-task baseline (an `independent` zoo model: one network per task,
    nothing shared, static weighting) is trained alongside, so the tables can report Δm, the mean
    relative improvement over single-task learning, and flag negative transfer per task.

    Vector (MLP) models on image benchmarks get flattened images; image (conv) models need image
    benchmarks.

    Args:
        benchmarks: benchmark names, optionally with loader options: `"multi_digits"`,
            `"mmoe_synthetic:p=0.9"` (see `BenchmarkSpec.parse`).
        models: zoo model names (see `mtl_keras.zoo.list_models`).
        weightings: weighting strategy names (see `mtl_keras.weighting.WEIGHTINGS.names()`), each
            optionally with constructor options: `"cagrad:c=0.4"`,
            `"pcgrad:uses_representation=True"`.
        seeds: integer seeds; each seeds the data set draw, the initial weights and the shuffles.
        epochs: training epochs of every run.
        batch_size: training batch size (per task in multi-input benchmarks).
        learning_rate: Adam learning rate.
        baseline: the single-task baseline: `"matched"` (default: for every model the
            `independent` model of the same backbone and size), a zoo model name used for every
            model, or `None` (no baseline, no Δm).
        patience: `None` (train all epochs) or the patience of an `EarlyStopping` on the
            validation loss, restoring the best weights.
        benchmark_options: `{benchmark_name: {option: value}}` applied to every spec of that
            benchmark (options in the spec win), e.g. `{"multi_digits": {"num_train": 500}}`.
        model_options: `{model_name: {override: value}}` passed to `zoo.create_model`.
        eval_batch_size: batch size of validation and test passes.
        name: a name for the run, shown in the report title (presets set it).

    Example:

    >>> config = BenchmarkRun(benchmarks=["multi_digits"], models=["hard_sharing_mlp", "mmoe_mlp"],
    ...                       weightings=["static", "uncertainty"], seeds=[0, 1], epochs=10)
    >>> results = run_benchmarks(config, "runs/bench")
    """

    benchmarks: list
    models: list
    weightings: list = dataclasses.field(default_factory=lambda: ["static"])
    seeds: list = dataclasses.field(default_factory=lambda: [0])
    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 1e-3
    baseline: str = MATCHED
    patience: int = None
    benchmark_options: dict = dataclasses.field(default_factory=dict)
    model_options: dict = dataclasses.field(default_factory=dict)
    eval_batch_size: int = 256
    name: str = "custom"

    def __post_init__(self):
        self.benchmarks = [BenchmarkSpec.parse(b) for b in _as_list(self.benchmarks, "benchmarks")]
        self.models = [str(m) for m in _as_list(self.models, "models")]
        self.weightings = [str(w) for w in _as_list(self.weightings, "weightings")]
        self.seeds = _as_list(self.seeds, "seeds")
        for key in ("seeds",):
            bad = [s for s in self.seeds if isinstance(s, bool) or not isinstance(s, int) or s < 0]
            if bad:
                raise BenchmarkConfigError(f"{key} must be non-negative integers. Received: {bad}")
        for key in ("epochs", "batch_size", "eval_batch_size"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise BenchmarkConfigError(f"{key} must be a positive integer. Received: {key}={value!r}")
        if self.patience is not None and (not isinstance(self.patience, int) or self.patience < 1):
            raise BenchmarkConfigError(f"patience must be None or a positive integer. Received: {self.patience!r}")
        if not (isinstance(self.learning_rate, (int, float)) and self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise BenchmarkConfigError(f"learning_rate must be a positive number. Received: {self.learning_rate!r}")
        for key in ("benchmarks", "models", "weightings", "seeds"):
            values = getattr(self, key)
            labels = [v.label if isinstance(v, BenchmarkSpec) else v for v in values]
            if len(set(labels)) != len(labels):
                raise BenchmarkConfigError(f"{key} lists a name twice: {labels}")

    # ------------------------------------------------------------------ names
    def options_for(self, spec):
        """The loader options of a `BenchmarkSpec`: `benchmark_options[name]` updated by the spec's own."""
        return {**dict(self.benchmark_options.get(spec.name, {})), **dict(spec.options)}

    def baseline_for(self, model):
        """The zoo name of the single-task baseline of `model`, or `None` without a baseline."""
        if self.baseline is None:
            return None
        if self.baseline != MATCHED:
            return self.baseline
        return matched_baseline(model)

    def validate(self):
        """Checks every name against its registry before anything is trained.

        Raises:
            BenchmarkConfigError: listing every unknown benchmark, model, weighting or baseline
                (each with the registry's close names), and options no model factory takes.
        """
        from mtl_keras import zoo
        from mtl_keras.benchmarks import datasets

        problems = []

        def check(get, name):
            try:
                get(name)
                return True
            except ValueError as error:
                problems.append(str(error))
                return False

        for name in dict.fromkeys(spec.name for spec in self.benchmarks):
            check(datasets.BENCHMARKS.get, name)
        unknown_options = sorted(set(self.benchmark_options) - {s.name for s in self.benchmarks})
        if unknown_options:
            problems.append(f"benchmark_options given for benchmarks that are not run: {unknown_options}")
        known_models = [m for m in self.models if check(_zoo_registry().get, m)]
        for label in self.weightings:
            try:
                build_weighting(label)
            except ValueError as error:  # unknown name, unreadable or refused option
                problems.append(str(error))
        if self.baseline not in (None, MATCHED):
            check(_zoo_registry().get, self.baseline)
            if self.baseline in zoo.list_models() and _zoo_registry().metadata(self.baseline)["family"] != "independent":
                problems.append(
                    f"baseline '{self.baseline}' is not an independent (single-task) model; "
                    f"use one of: {', '.join(zoo.list_models('*independent*'))}."
                )
        elif self.baseline == MATCHED:
            for model in known_models:
                if matched_baseline(model) is None:
                    problems.append(f"No independent zoo model matches '{model}'; pass baseline=<zoo name>.")
        for model, overrides in self.model_options.items():
            if model not in self.models:
                problems.append(f"model_options given for a model that is not run: '{model}'")
                continue
            if model in known_models:
                extra = sorted(set(overrides) - set(zoo.accepted_arguments(model)))
                if extra:
                    problems.append(f"model_options['{model}']: the model does not take {extra}.")
        if problems:
            raise BenchmarkConfigError("Invalid benchmark run:\n  - " + "\n  - ".join(problems))

    def to_dict(self):
        """A JSON-friendly dict of the configuration (benchmark specs as labels)."""
        out = dataclasses.asdict(self)
        out["benchmarks"] = [spec.label for spec in self.benchmarks]
        return out


# ---------------------------------------------------------------------- presets
#: Named configurations. `quick` takes well under a minute on 2 CPU cores; `offline` (the table of
#: `benchmarks/RESULTS.md`) under ten minutes; `correlation` sweeps the MMoE task correlation.
PRESETS = {
    "quick": dict(
        benchmarks=["multi_digits"],
        models=["hard_sharing_mlp", "mmoe_mlp"],
        weightings=["static"],
        seeds=[0],
        epochs=8,
        batch_size=64,
        learning_rate=2e-3,
    ),
    "offline": dict(
        benchmarks=["multi_digits", "gradnorm_scales", "mmoe_synthetic:p=0.5", "mmoe_synthetic:p=0.9"],
        models=["hard_sharing_mlp", "mmoe_mlp", "cross_stitch_mlp"],
        weightings=["static", "uncertainty", "famo"],
        seeds=[0, 1],
        epochs=10,
        batch_size=64,
        learning_rate=2e-3,
    ),
    "correlation": dict(
        benchmarks=[f"mmoe_synthetic:p={p}" for p in (0.0, 0.5, 0.9, 1.0)],
        models=["hard_sharing_mlp", "mmoe_mlp"],
        weightings=["static"],
        seeds=[0, 1],
        epochs=15,
        batch_size=64,
        learning_rate=2e-3,
    ),
    "tiny": dict(
        benchmarks=["mmoe_synthetic:p=0.2", "mmoe_synthetic:p=0.9"],
        models=["test_hard_sharing_mlp"],
        weightings=["static"],
        seeds=[0],
        epochs=2,
        batch_size=32,
        benchmark_options={"mmoe_synthetic": {"num_train": 64, "num_validation": 32, "num_test": 32, "input_dim": 8}},
    ),
}


def get_preset(name, **overrides):
    """Returns the `BenchmarkRun` of preset `name` (`"quick"`, `"offline"`, `"correlation"`, `"tiny"`).

    Args:
        name: a key of `PRESETS`.
        **overrides: fields replacing the preset's, e.g. `seeds=[0, 1, 2]`.
    """
    if name not in PRESETS:
        import difflib

        close = difflib.get_close_matches(str(name), list(PRESETS), n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise BenchmarkConfigError(f"Unknown preset: '{name}'.{hint} Available: {', '.join(sorted(PRESETS))}.")
    fields = {**PRESETS[name], "name": name}
    fields.update({k: v for k, v in overrides.items() if v is not None})
    return BenchmarkRun(**fields)


# ---------------------------------------------------------------------- helpers
def matched_baseline(model):
    """The `independent` zoo model with the backbone and size of `model` (or `None`)."""
    registry = _zoo_registry()
    meta = registry.metadata(model)
    if meta["family"] == "independent":
        return model
    for name in registry.names():
        other = registry.metadata(name)
        if (
            other["family"] == "independent"
            and other.get("backbone") == meta.get("backbone")
            and other.get("variant") == meta.get("variant")
            and other["input_kind"] == meta["input_kind"]
        ):
            return name
    return None


def model_input_kind(model):
    """`"vector"` or `"image"`: the input rank a zoo model takes."""
    return _zoo_registry().metadata(model)["input_kind"]


def check_writable(out_dir):
    """Creates `out_dir` if needed and checks a file can be written in it.

    Raises:
        BenchmarkConfigError: the folder cannot be created or written.
    """
    out_dir = os.fspath(out_dir)
    try:
        os.makedirs(out_dir, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".write_check_", delete=True):
            pass
    except OSError as error:
        raise BenchmarkConfigError(
            f"The output folder '{out_dir}' is not writable ({error.strerror or error}). "
            "Pass another folder (--out DIR)."
        ) from None
    return out_dir


def _zoo_registry():
    from mtl_keras import zoo

    return zoo.MODELS


def _as_list(value, key):
    if isinstance(value, (str, BenchmarkSpec)):
        value = [value]
    try:
        values = list(value)
    except TypeError:
        raise BenchmarkConfigError(f"{key} must be a list. Received: {value!r}") from None
    if not values:
        raise BenchmarkConfigError(f"{key} must not be empty.")
    return values


def _split_top_level(text, separator):
    """Splits `text` on `separator` outside brackets and quotes."""
    parts, depth, quote, current = [], 0, None, []
    for char in text:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def split_list(text):
    """Splits a comma-separated command-line list, keeping commas inside brackets: `"a:s=(1,2),b"`."""
    return [part.strip() for part in _split_top_level(text, ",") if part.strip()]


def _literal(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _format_value(value):
    if isinstance(value, (tuple, list)):
        return "(" + ",".join(_format_value(v) for v in value) + ")"
    return str(value)

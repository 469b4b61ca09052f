"""What a benchmark run trains: the `BenchmarkRun` configuration, name checks and presets."""

import ast
import dataclasses
import math
import os
import tempfile

#: Spec options read by the runner, not by the data set's loader: `train_size=n` keeps `n` training
#: examples per task (a seeded subset, nested across sizes; validation and test splits unchanged);
#: `task_inputs=separate` gives every task its own draw of training inputs (multi-input mode)
#: instead of one set of inputs labelled for every task (`shared`, the default).
RUNNER_OPTIONS = ("train_size", "task_inputs")
TASK_INPUTS = ("shared", "separate")

#: What early stopping can watch (see `BenchmarkRun.monitor`).
MONITORS = ("val_loss", "val_score")

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
    def train_size(self):
        """The `train_size` option (examples per task), or `None` for the full training split."""
        return dict(self.options).get("train_size")

    @property
    def base_label(self):
        """The label without `train_size`: the benchmark a data-size sweep varies the size of."""
        return BenchmarkSpec(self.name, tuple((k, v) for k, v in self.options if k != "train_size")).label

    def with_train_size(self, size):
        """This spec with `train_size=size` (`None`: the full training split)."""
        options = {k: v for k, v in self.options if k != "train_size"}
        if size is not None:
            options["train_size"] = size
        return BenchmarkSpec(self.name, tuple(sorted(options.items())))

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
            `"mmoe_synthetic:p=0.9"` (see `BenchmarkSpec.parse`), and the runner's own options
            (`RUNNER_OPTIONS`): `train_size=n` (n training examples per task) and
            `task_inputs=separate` (every task draws its own training inputs).
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
        patience: `None` (train all epochs) or the patience of an `EarlyStopping` on
            `monitor`, restoring the best epoch's weights.
        monitor: what early stopping watches: `"val_loss"` (default, the weighted sum of the
            validation losses) or `"val_score"` (the mean relative change of every task's main
            validation metric since the first epoch, see `monitor.ValidationScore`: scale-free,
            and right for classifiers whose validation cross-entropy rises while their accuracy
            still improves, as with small training sets).
        benchmark_options: `{benchmark_name: {option: value}}` applied to every spec of that
            benchmark (options in the spec win), e.g. `{"multi_digits": {"num_train": 500}}`.
        model_options: `{model_name: {override: value}}` passed to `zoo.create_model`; the
            names may be models of the run or their single-task baselines (e.g.
            `{"mtan_conv": {"pooling": "flatten"}, "independent_conv": {"pooling": "flatten"}}`).
        eval_batch_size: batch size of validation and test passes.
        name: a name for the run, shown in the report title (presets set it).
        train_sizes: a data-size sweep: training examples per task, e.g. `[25, 100, 400, None]`
            (`None`: the full training split). Every benchmark runs at every size, as the spec
            `<benchmark>:train_size=<n>`: a seeded subset of `n` examples per task (the smaller
            sets are subsets of the larger ones; validation and test splits are unchanged).
            Specs that already give `train_size` are kept as they are.
        steps_per_epoch: `None` (an epoch is one pass over the training set) or a fixed number of
            steps per epoch (the training stream repeats), so that small and large training sets
            get the same number of updates.
        param_matched: also train, for every model, a parameter-matched single-task baseline: the
            `independent` zoo model (one network per task) with its widths scaled so that its
            total parameter count matches the model's.
        tuned_baseline: also train, for every model, a tuned equal-weight baseline: static equal
            weights with the learning rate and weight decay searched by KerasTuner
            (`mtl_keras.tuning`, random search, `tuning_trials` trials) on the first seed's
            validation split, scored by Δm against the single-task baseline's validation results;
            every weighting of the model is then also compared with it.
        tuning_trials: trials of that search.
        tuning_lr_range: `(low, high)` of the searched learning rate (log scale).
        tuning_weight_decay_range: `(low, high)` of the searched decoupled weight decay (log scale).
        significance: level of the paired test over seeds (see `report`): a difference whose
            p-value is at least this is marked as within noise.

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
    monitor: str = "val_loss"
    benchmark_options: dict = dataclasses.field(default_factory=dict)
    model_options: dict = dataclasses.field(default_factory=dict)
    eval_batch_size: int = 256
    name: str = "custom"
    train_sizes: list = None
    steps_per_epoch: int = None
    param_matched: bool = False
    tuned_baseline: bool = False
    tuning_trials: int = 8
    tuning_lr_range: tuple = (3e-4, 1e-2)
    tuning_weight_decay_range: tuple = (1e-5, 1e-1)
    significance: float = 0.05

    def __post_init__(self):
        self.benchmarks = [BenchmarkSpec.parse(b) for b in _as_list(self.benchmarks, "benchmarks")]
        if self.train_sizes is not None:
            self.train_sizes = _as_list(self.train_sizes, "train_sizes")
            bad = [n for n in self.train_sizes if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1)]
            if bad:
                raise BenchmarkConfigError(f"train_sizes must be positive integers or None (the full set). Received: {bad}")
            self.benchmarks = [
                size_spec
                for spec in self.benchmarks
                for size_spec in ([spec] if spec.train_size is not None else [spec.with_train_size(n) for n in self.train_sizes])
            ]
        for spec in self.benchmarks:
            inputs = dict(spec.options).get("task_inputs", "shared")
            if inputs not in TASK_INPUTS:
                raise BenchmarkConfigError(f"Benchmark '{spec.label}': task_inputs must be one of {TASK_INPUTS}. Received: {inputs!r}")
            size = spec.train_size
            if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
                raise BenchmarkConfigError(f"Benchmark '{spec.label}': train_size must be a positive integer. Received: train_size={size!r}")
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
        for key in ("patience", "steps_per_epoch"):
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise BenchmarkConfigError(f"{key} must be None or a positive integer. Received: {key}={value!r}")
        if self.monitor not in MONITORS:
            raise BenchmarkConfigError(f"monitor must be one of {MONITORS}. Received: monitor={self.monitor!r}")
        if isinstance(self.tuning_trials, bool) or not isinstance(self.tuning_trials, int) or self.tuning_trials < 1:
            raise BenchmarkConfigError(f"tuning_trials must be a positive integer. Received: tuning_trials={self.tuning_trials!r}")
        for key in ("tuning_lr_range", "tuning_weight_decay_range"):
            value = getattr(self, key)
            try:
                low, high = (float(v) for v in value)
            except (TypeError, ValueError):
                raise BenchmarkConfigError(f"{key} must be a pair (low, high). Received: {key}={value!r}") from None
            if not 0 < low <= high or not math.isfinite(high):
                raise BenchmarkConfigError(f"{key} must satisfy 0 < low <= high. Received: {key}={value!r}")
            setattr(self, key, (low, high))
        if not (isinstance(self.significance, float) and 0 < self.significance < 1):
            raise BenchmarkConfigError(f"significance must be a number in (0, 1). Received: significance={self.significance!r}")
        if not (isinstance(self.learning_rate, (int, float)) and self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise BenchmarkConfigError(f"learning_rate must be a positive number. Received: {self.learning_rate!r}")
        for key in ("benchmarks", "models", "weightings", "seeds"):
            values = getattr(self, key)
            labels = [v.label if isinstance(v, BenchmarkSpec) else v for v in values]
            if len(set(labels)) != len(labels):
                raise BenchmarkConfigError(f"{key} lists a name twice: {labels}")

    # ------------------------------------------------------------------ names
    def options_for(self, spec):
        """The loader options of a `BenchmarkSpec`: `benchmark_options[name]` updated by the spec's own.

        Options the runner reads itself (`RUNNER_OPTIONS`, e.g. `train_size`) are left out.
        """
        options = {**dict(self.benchmark_options.get(spec.name, {})), **dict(spec.options)}
        return {k: v for k, v in options.items() if k not in RUNNER_OPTIONS}

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
        for name, options in self.benchmark_options.items():
            runner_only = sorted(set(options) & set(RUNNER_OPTIONS))
            if runner_only:
                problems.append(
                    f"benchmark_options['{name}'] gives {runner_only}: put train_size in the benchmark spec "
                    f"('{name}:train_size=100') or use train_sizes."
                )
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
        if self.baseline is None and (self.param_matched or self.tuned_baseline):
            problems.append("param_matched and tuned_baseline compare with the single-task baseline: baseline must not be None.")
        if self.baseline == MATCHED:
            for model in known_models:
                if matched_baseline(model) is None:
                    problems.append(f"No independent zoo model matches '{model}'; pass baseline=<zoo name>.")
        for model in known_models:
            if model_input_kind(model) == "image":
                kinds = {benchmark_input_kind(spec.name) for spec in self.benchmarks}
                if "image" not in kinds and None not in kinds:
                    problems.append(
                        f"Model '{model}' takes images (height, width, channels) but no benchmark of the run has images "
                        f"({', '.join(dict.fromkeys(spec.label for spec in self.benchmarks))}). Use a vector (*_mlp) model."
                    )
        run_models = set(self.models) | {self.baseline_for(m) for m in known_models} - {None}
        for model, overrides in self.model_options.items():
            if model not in run_models:
                problems.append(f"model_options given for a model that is not run (nor a baseline): '{model}'")
                continue
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


def benchmark_input_kind(name):
    """`"vector"` or `"image"`: the kind of inputs of a registered benchmark (`None` if unknown)."""
    from mtl_keras.benchmarks import datasets

    try:
        return datasets.BENCHMARKS.metadata(name).get("input_kind")
    except ValueError:
        return None


def runs_on(model, spec):
    """Whether zoo model `model` can run on benchmark `spec` (image models need image benchmarks)."""
    return model_input_kind(model) != "image" or benchmark_input_kind(spec.name) in ("image", None)


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

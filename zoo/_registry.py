"""The zoo's registry: `register_model`, `create_model`, `list_models`, `describe_model`."""

import inspect

from mtl_keras.registry import Registry
from mtl_keras.task import Task, as_tasks

_MODELS = Registry("zoo model")
#: The public name of the registry (`zoo.MODELS.names()`, `zoo.MODELS.metadata(name)`).
MODELS = _MODELS
_PARAM_CACHE = {}

#: Rank of the input (without batch) that each `input_kind` takes.
INPUT_RANKS = {"vector": 1, "image": 3}

#: Input shapes of the reference task set used for parameter counts.
REFERENCE_INPUT_SHAPES = {"vector": (32,), "image": (16, 16, 1)}


def reference_tasks():
    """The reference task set of the parameter counts: 2 classification tasks (10, 5 classes) and 1 regression."""
    return [
        Task("cls_a", kind="classification", num_classes=10),
        Task("cls_b", kind="classification", num_classes=5),
        Task("reg", kind="regression"),
    ]


def register_model(name, *, description, paper=None, family, input_kind, **metadata):
    """Decorator that registers a zoo model factory under `name`.

    The factory is called as `factory(tasks, input_shape=None, **overrides)` and returns a
    `mtl_keras.MultiTaskModel`. The metadata is plain data, shown by `describe_model` and in
    the zoo's table.

    Args:
        name: the model's name, e.g. `"film_mlp_small"`.
        description: a one-line description.
        paper: the reference paper (a short citation), or `None`.
        family: the sharing strategy, e.g. `"film"`.
        input_kind: `"vector"` (rank-1 inputs) or `"image"` (`(height, width, channels)` inputs).
        **metadata: further plain data (e.g. `backbone`, `preset`).

    Example:

    >>> @register_model("my_mlp", description="...", family="hard_sharing", input_kind="vector")
    ... def my_mlp(tasks, input_shape=None, **overrides):
    ...     return MultiTaskModel(tasks, body=..., input_shape=input_shape)
    """
    if input_kind not in INPUT_RANKS:
        raise ValueError(f"register_model('{name}'): input_kind must be one of {sorted(INPUT_RANKS)}. Received: {input_kind!r}")
    return _MODELS.register(
        name, description=description, paper=paper, family=family, input_kind=input_kind, **metadata
    )


def list_models(pattern="*"):
    """Sorted names of the registered zoo models matching a shell-style `pattern`.

    Args:
        pattern: a wildcard pattern (`*`, `?`, `[abc]`), e.g. `"film*"` or `"*_resnet"`. Defaults to all.

    Example:

    >>> list_models("test_film*")
    ['test_film_conv', 'test_film_mlp', 'test_film_resnet']
    """
    return _MODELS.names(pattern)


def create_model(model_name, tasks, input_shape=None, **overrides):
    """Instantiates the zoo model `name` for `tasks`.

    Args:
        model_name: a registered name (see `list_models`). An unknown name raises a `ValueError`
            listing close matches.
        tasks: list of `mtl_keras.Task` (of any mix of kinds).
        input_shape: the input shape without the batch axis, e.g. `(121,)` for a vector model or
            `(32, 32, 3)` for an image model. If given the model is built at once; otherwise on
            its first call or `fit`.
        **overrides: arguments of the model's factory that replace the variant's preset, e.g.
            `units=(128, 64)` or `num_experts=8`. Arguments the factory does not take raise a
            `ValueError` naming the model and the argument. `name=` names the Keras model;
            `sampler=`, `tasks_per_step=` and `seed=` go to `MultiTaskModel` (which tasks a step
            trains, and the seed of their draws).

    Returns:
        A `mtl_keras.MultiTaskModel`, ready to `compile`.

    Example:

    >>> model = create_model("film_mlp", tasks=tasks, input_shape=(121,))
    >>> model.compile(optimizer="adam")
    >>> sampled = create_model("film_mlp", tasks=tasks, input_shape=(121,), tasks_per_step=1, seed=3)
    """
    name = model_name
    factory = _MODELS.get(name)
    meta = _MODELS.metadata(name)
    tasks = as_tasks(tasks) if tasks is not None else None
    if not tasks:
        raise ValueError(f"create_model('{name}'): tasks must be a non-empty list of mtl_keras.Task. Received: tasks={tasks!r}")
    if input_shape is not None:
        input_shape = _check_input_shape(name, meta["input_kind"], input_shape)
    accepted = accepted_arguments(name)
    for key in overrides:
        if key not in accepted:
            raise ValueError(
                f"create_model('{name}'): the model does not take the argument '{key}'. "
                f"Accepted arguments: {', '.join(sorted(accepted))}."
            )
    return factory(tasks, input_shape=input_shape, **overrides)


def accepted_arguments(name):
    """Names of the overrides the factory of model `name` accepts."""
    factory = _MODELS.get(name)
    declared = getattr(factory, "accepted_arguments", None)
    if declared is not None:
        return tuple(declared)
    params = inspect.signature(factory).parameters
    return tuple(
        p for p, spec in params.items()
        if p not in ("tasks", "input_shape") and spec.kind in (spec.POSITIONAL_OR_KEYWORD, spec.KEYWORD_ONLY)
    )


def _check_input_shape(name, input_kind, input_shape):
    try:
        shape = tuple(input_shape)
    except TypeError:
        raise ValueError(
            f"create_model('{name}'): input_shape must be a tuple. Received: input_shape={input_shape!r}"
        ) from None
    if shape and shape[0] is None and len(shape) == INPUT_RANKS[input_kind] + 1:
        shape = shape[1:]  # a batch axis was included
    if len(shape) != INPUT_RANKS[input_kind]:
        expected = "(features,)" if input_kind == "vector" else "(height, width, channels)"
        raise ValueError(
            f"create_model('{name}'): this model takes {input_kind} inputs of shape {expected} "
            f"(rank {INPUT_RANKS[input_kind]} without the batch axis). Received: input_shape={input_shape!r}"
        )
    if any(d is not None and (int(d) != d or d < 1) for d in shape):
        raise ValueError(f"create_model('{name}'): input_shape must hold positive integers. Received: input_shape={input_shape!r}")
    return shape


def parameter_count(name):
    """Parameters of model `name` for the reference task set (computed once by building the model)."""
    if name not in _PARAM_CACHE:
        meta = _MODELS.metadata(name)
        model = create_model(name, reference_tasks(), input_shape=REFERENCE_INPUT_SHAPES[meta["input_kind"]])
        _PARAM_CACHE[name] = int(model.count_params())
    return _PARAM_CACHE[name]


def describe_model(name, print_fn=None):
    """The metadata of model `name`, with its parameter count for the reference task set.

    The reference task set is two classification tasks (10 and 5 classes) and one regression
    task, on inputs of shape `(32,)` (vector models) or `(16, 16, 1)` (image models).

    Args:
        name: a registered model name.
        print_fn: if given (e.g. `print`), called with a readable summary.

    Returns:
        A dict: `name`, `description`, `paper`, `family`, `input_kind`, the other metadata,
        `arguments` (the accepted overrides) and `params`.
    """
    info = {"name": name, **_MODELS.metadata(name)}
    info["arguments"] = list(accepted_arguments(name))
    info["params"] = parameter_count(name)
    if print_fn is not None:
        lines = [f"{name}: {info['description']}"]
        lines += [f"  {k}: {v}" for k, v in info.items() if k not in ("name", "description")]
        print_fn("\n".join(lines))
    return info

"""The `mtl-keras export` command: a saved `.keras` model to a versioned SavedModel.

Wiring (in `mtl_keras/cli.py`):

>>> from mtl_keras.export import cli as export_cli
>>> export_cli.add_parser(commands)   # `commands = parser.add_subparsers(...)`

`add_parser` sets `func=run` on the sub-command, so `args.func(args)` runs it. `run` returns
the exit code (0 on success); it raises `ValueError` (caught by `main`) on bad input, e.g. an
existing version without `--overwrite`.

Usage:

    mtl-keras export MODEL.keras BASE_DIR [--version N] [--overwrite] [--no-by-task-id]
"""

import argparse
import os

from mtl_keras import cli_arguments as types


def add_parser(subparsers):
    """Adds the `export` sub-command to an `argparse` sub-parsers object and returns its parser.

    Args:
        subparsers: the object returned by `parser.add_subparsers(...)`.
    """
    parser = subparsers.add_parser(
        "export",
        help="export a saved .keras MultiTaskModel to <base>/<version>/ as a SavedModel for TensorFlow Serving",
        description=(
            "Exports a MultiTaskModel saved as .keras to BASE_DIR/VERSION/ (the TensorFlow Serving layout) with "
            "signatures serving_default (every task), serve_<task> (one per task) and, when the tasks' outputs "
            "have the same shape, serve_by_task_id (inputs + int32 task_id)."
        ),
    )
    parser.add_argument("model", type=types.model_file, help="path of the .keras model file (checked before loading)")
    parser.add_argument(
        "output", type=types.output_folder, help="base directory of the export; the version is a sub-directory"
    )
    parser.add_argument(
        "--version",
        type=types.integer(minimum=0),
        default=None,
        help="integer version >= 0 (default: the next free one, 1 for a new base)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace the version directory if it exists")
    parser.add_argument(
        "--no-by-task-id", dest="by_task_id", action="store_false", help="do not add the serve_by_task_id signature"
    )
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's logs and Python warnings")
    parser.set_defaults(func=run, by_task_id=True, check=check, command_parser=parser)
    return parser


def check(args):
    """Refuses, before any TensorFlow work, an existing version without `--overwrite`."""
    if args.version is not None and not args.overwrite:
        target = os.path.join(args.output, str(args.version))
        if os.path.exists(target):
            raise argparse.ArgumentTypeError(
                f"version {args.version} already exists at '{target}'; pass --overwrite to replace it. "
                f"Received: --version={args.version}"
            )


def run(args):
    """Runs `mtl-keras export` for parsed arguments; prints the version directory and its signatures.

    Args:
        args: an `argparse.Namespace` with `model`, `output`, `version`, `overwrite` (and optionally
            `by_task_id`).

    Returns:
        The exit code: 0.
    """
    from mtl_keras.export.saved_model import export_saved_model, load_model, read_metadata

    model = load_model(args.model)
    by_task_id = "auto" if getattr(args, "by_task_id", True) else False
    path = export_saved_model(model, args.output, version=args.version, overwrite=args.overwrite, by_task_id=by_task_id)
    metadata = read_metadata(path)
    print(f"Exported '{model.name}' ({len(model.tasks)} tasks: {', '.join(model.task_names)}) to {path}")
    print(f"{'signature':24} {'inputs':40} outputs")
    for name, signature in metadata["signatures"].items():
        inputs = ", ".join(f"{k} {v['dtype']}{_shape(v['shape'])}" for k, v in signature["inputs"].items())
        outputs = ", ".join(f"{k} {v['dtype']}{_shape(v['shape'])}" for k, v in signature["outputs"].items())
        print(f"{name:24} {inputs:40} {outputs}")
    if metadata.get("by_task_id_note"):
        print(f"(no serve_by_task_id: {metadata['by_task_id_note']})")
    return 0


def _shape(shape):
    return "(" + ", ".join("batch" if i == 0 else ("?" if d is None else str(d)) for i, d in enumerate(shape)) + ")"

"""The `mtl-keras` console command (the entry point installed by `pip`).

It sits beside the `mtl_keras` package, not inside it, so that it can ask the package to defer
its imports (`MTL_KERAS_DEFER_IMPORTS=1`) before the package loads: the arguments are then parsed
and checked without TensorFlow, and `mtl-keras --help` answers at once. The commands themselves
are `mtl_keras.cli`.
"""

import os
import sys

DEFER_IMPORTS_VARIABLE = "MTL_KERAS_DEFER_IMPORTS"


def main(argv=None):
    """Runs the `mtl-keras` command line; returns the exit status (see `mtl_keras.cli.main`)."""
    previous = os.environ.get(DEFER_IMPORTS_VARIABLE)
    os.environ[DEFER_IMPORTS_VARIABLE] = "1"
    try:
        from mtl_keras import cli
    finally:  # processes the command starts import the library normally
        if previous is None:
            os.environ.pop(DEFER_IMPORTS_VARIABLE, None)
        else:
            os.environ[DEFER_IMPORTS_VARIABLE] = previous
    code = cli.main(argv)
    if code == cli.EXIT_INTERRUPTED:
        # Interrupted: leave at once. Python's clean-up of TensorFlow's and KerasTuner's objects
        # can take seconds; what the command writes is complete file by file.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())

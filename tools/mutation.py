"""Mutation testing of the library's pure-Python parts with mutmut (not part of CI: minutes to hours).

A mutant is a copy of the code with one small change (`<` for `<=`, a constant changed, a call's
argument dropped...). A mutant is *killed* when some test fails on it and *survives* otherwise;
the score is killed / (killed + survived) over the mutants that the tests reach. Surviving mutants
point at behaviour no test pins down.

The script copies the work tree to a scratch folder (the tree itself is left alone), writes
mutmut's configuration there, runs mutmut on the modules below against their fast tests only, and
prints the score per module and every surviving mutant (`mutmut show NAME` in the scratch folder
prints its diff).

Run from the repository root, in the project's environment with the `mutation` extra installed
(`pip install -e ".[test,mutation]"`):

    python tools/mutation.py                 # every module below
    python tools/mutation.py --module task   # one module (see MODULES for the names)
    python tools/mutation.py --jobs 2 --workdir /tmp/mtl-keras-mutation
"""

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: module name -> (source file, the fast tests that exercise it)
MODULES = {
    "task": ("mtl_keras/task.py", ["tests/test_task.py"]),
    "registry": ("mtl_keras/registry.py", ["tests/test_registry.py"]),
    "samplers": ("mtl_keras/samplers/*", ["tests/test_samplers.py"]),
    "evaluation": ("mtl_keras/evaluation.py", ["tests/test_evaluation.py"]),
    "data_checks": ("mtl_keras/data/checks.py", ["tests/test_data_checks.py"]),
    "cli_arguments": ("mtl_keras/cli_arguments.py", ["tests/test_cli_arguments.py"]),
}

#: Functions left out of the score: the TensorFlow graph parts of the data checks (in-pipeline
#: value checks), tested through `fit` in tests/bad_input, too slow to run per mutant.
NOT_SCORED = ("with_value_checks", "_label_problems", "_input_problems", "_assert_all")

#: Tests left out of the mutation runs (they still run in CI): the samplers' statistical frequency
#: tests (thousands of draws, seconds each), which would time out against every sampler mutant.
DESELECT = "not frequencies and not two_of_four"

TARGET_SCORE = 85.0
_IGNORED = shutil.ignore_patterns(".venv", ".git", "mutants", "__pycache__", ".hypothesis", ".pytest_cache", "*.egg-info")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", action="append", choices=sorted(MODULES), help="module(s) to mutate (default: all)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="parallel mutants (default: CPU count)")
    parser.add_argument("--workdir", help="scratch folder (default: a new temporary folder, kept for `mutmut show`)")
    return parser.parse_args(argv)


def write_config(workdir, modules):
    sources = [MODULES[m][0] for m in modules]
    tests = sorted({t for m in modules for t in MODULES[m][1]})
    lines = [
        "[mutmut]",
        "source_paths = mtl_keras/",
        "only_mutate =",
        *[f"    {s}" for s in sources],
        "pytest_add_cli_args_test_selection =",
        *[f"    {t}" for t in tests],
        "pytest_add_cli_args =",
        "    -p no:cacheprovider",
        "    -k",
        f"    {DESELECT}",
        "",
    ]
    with open(os.path.join(workdir, "setup.cfg"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


def module_of(mutant, modules):
    """The MODULES name of a mutant key like `mtl_keras.task.x_check_name__mutmut_3`."""
    dotted = mutant.split(".x")[0].split(".x_")[0]
    for name in modules:
        pattern = MODULES[name][0].replace("/", ".").removesuffix(".py").replace(".*", "")
        if dotted.startswith(pattern):
            return name
    return "other"


def main(argv=None):
    args = parse_args(argv)
    modules = args.module or list(MODULES)
    workdir = args.workdir or tempfile.mkdtemp(prefix="mtl-keras-mutation-")
    if os.path.exists(workdir):
        shutil.rmtree(workdir)
    shutil.copytree(ROOT, workdir, ignore=_IGNORED)
    write_config(workdir, modules)
    env = dict(os.environ, HYPOTHESIS_PROFILE="ci", TF_CPP_MIN_LOG_LEVEL="3")
    mutmut = [sys.executable, "-m", "mutmut"]
    print(f"mutating {', '.join(modules)} in {workdir} ({args.jobs} jobs)", flush=True)
    log = os.path.join(workdir, "mutmut-run.log")
    with open(log, "w", encoding="utf-8") as out:  # mutmut's progress spinner goes to the log
        subprocess.run([*mutmut, "run", "--max-children", str(args.jobs)], cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    listing = subprocess.run([*mutmut, "results", "--all", "true"], cwd=workdir, env=env, capture_output=True, text=True)
    counts = collections.defaultdict(collections.Counter)
    survivors = []
    for line in listing.stdout.splitlines():
        match = re.match(r"\s*(\S+): (.+)$", line)
        if not match:
            continue
        mutant, status = match.groups()
        if any(f".x_{name}__mutmut_" in mutant for name in NOT_SCORED):
            continue
        counts[module_of(mutant, modules)][status] += 1
        if status == "survived":
            survivors.append(mutant)
    print("\nmodule          killed  survived  no tests  timeout   score")
    total_killed = total_scored = 0
    for name in modules:
        c = counts[name]
        killed = c["killed"] + c["timeout"] + c["segfault"]
        scored = killed + c["survived"]
        total_killed += killed
        total_scored += scored
        score = 100.0 * killed / scored if scored else float("nan")
        print(f"{name:<15} {c['killed']:>6} {c['survived']:>9} {c['no tests']:>9} {c['timeout']:>8} {score:>6.1f} %")
    overall = 100.0 * total_killed / total_scored if total_scored else float("nan")
    print(f"{'all':<15} {'':>6} {'':>9} {'':>9} {'':>8} {overall:>6.1f} %  (target >= {TARGET_SCORE:.0f} %)")
    if survivors:
        print(f"\nsurviving mutants ({len(survivors)}; `cd {workdir} && python -m mutmut show NAME` for the diff):")
        for mutant in survivors:
            print(f"    {mutant}")
    return 0 if overall >= TARGET_SCORE else 1


if __name__ == "__main__":
    sys.exit(main())

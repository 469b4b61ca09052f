# ruff: noqa
"""The bad-input battery: `case(name, fn)` runs `fn` and prints `[name] ACCEPTED -> result` or `[name] Error: message @ file:line`.

Run a probe with `.venv/bin/python tools/bad_input_battery/p1.py` (p1 Task; p2 data builders; p3 MultiTaskModel /
compile / fit / predict / weighting strategies; p4 static weights, samplers, zoo, layers; p5 export, pareto,
diagnostics, evaluation, transfer; p6 fit arrays, sample weights, validation, optimizers; p7 Δm directions;
p8 tuning and transfer entry points; p9 label scaling, callbacks, sampler sizes). Not tests: a record of what
each bad input does, for finding the next case to fix (the fixed ones have regression tests under tests/).
"""
import traceback, sys
RESULTS = []
def case(name, fn):
    try:
        r = fn()
        out = f"ACCEPTED -> {str(r)[:150]!s}"
    except BaseException as e:  # noqa
        tb = traceback.extract_tb(e.__traceback__)
        where = tb[-1].filename.split('site-packages/')[-1].split('badinput/')[-1] + ':' + str(tb[-1].lineno) if tb else ''
        out = f"{type(e).__name__}: {str(e)[:300]!r} @ {where}"
    print(f"[{name}] {out}", flush=True)

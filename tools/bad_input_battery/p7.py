# ruff: noqa
"""Bad-input probe (see harness.py): prints one line per case: ACCEPTED (and what came back) or the error, its type and where it was raised."""
import os, sys; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import case
import numpy as np
from mtl_keras import evaluation as E
case("dm task missing in baselines", lambda: E.delta_m({"a": {"accuracy": 0.9}, "b": {"mae": 2.0}}, {"a": {"accuracy": 0.8}}))
case("dm metric missing", lambda: E.delta_m({"a": {"accuracy": 0.9, "auc": 0.5}}, {"a": {"accuracy": 0.8}}))
case("dm baseline 0", lambda: E.delta_m({"a": {"mae": 0.5}, "b": {"mae": 1.0}}, {"a": {"mae": 0.0}, "b": {"mae": 2.0}}))
case("dm nan result", lambda: E.delta_m({"a": {"mae": float("nan")}, "b": {"mae": 1.0}}, {"a": {"mae": 1.0}, "b": {"mae": 2.0}}))
case("dm value str", lambda: E.delta_m({"a": {"mae": "1"}}, {"a": {"mae": 2.0}}))
case("dm flat dict", lambda: E.delta_m({"a_accuracy": 0.9}, {"a_accuracy": 0.8}))
case("dm inf", lambda: E.delta_m({"a": {"mae": float("inf")}}, {"a": {"mae": 2.0}}))
case("dm unknown metric direction mse", lambda: E.delta_m({"a": {"mse": 1.0}}, {"a": {"mse": 2.0}}))
case("dm unknown metric direction top5", lambda: E.delta_m({"a": {"top_5_accuracy": 0.9}}, {"a": {"top_5_accuracy": 0.8}}))
case("dm direction sparse_categorical_accuracy", lambda: E.delta_m({"a": {"sparse_categorical_accuracy": 0.9}}, {"a": {"sparse_categorical_accuracy": 0.8}}))
case("dm direction binary_accuracy", lambda: E.delta_m({"a": {"binary_accuracy": 0.9}}, {"a": {"binary_accuracy": 0.8}}))
case("dm direction 'acc'", lambda: E.delta_m({"a": {"acc": 0.9}}, {"a": {"acc": 0.8}}))
case("dm direction 'AUC'", lambda: E.delta_m({"a": {"AUC": 0.9}}, {"a": {"AUC": 0.8}}))
case("dm direction iou", lambda: E.delta_m({"a": {"mean_io_u": 0.9}}, {"a": {"mean_io_u": 0.8}}))
case("dm direction f1_score", lambda: E.delta_m({"a": {"f1_score": 0.9}}, {"a": {"f1_score": 0.8}}))
case("dm direction r2_score", lambda: E.delta_m({"a": {"r2_score": 0.9}}, {"a": {"r2_score": 0.8}}))
case("dm direction cosine_similarity", lambda: E.delta_m({"a": {"cosine_similarity": 0.9}}, {"a": {"cosine_similarity": 0.8}}))

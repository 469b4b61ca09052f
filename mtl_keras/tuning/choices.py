"""The names a search accepts (plain data, importable without KerasTuner or TensorFlow)."""

#: What a search can vary: task weights, the soft-sharing λ, the learning rate, the weight decay (AdamW),
#: the strategy, the model.
SEARCHABLE = ("weights", "lambda", "lr", "weight_decay", "weighting", "model")
#: How task weights are drawn: log-uniform per task, or a point of the simplex (scaled to sum to T).
WEIGHT_SPACES = ("log", "simplex")
#: The tuners by name (`mtl_keras.tuning.TUNERS` maps them to KerasTuner classes).
TUNER_NAMES = ("random", "bayesian", "hyperband")

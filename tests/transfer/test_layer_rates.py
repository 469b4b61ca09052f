import keras
import numpy as np
import pytest

import mtl_keras as mk
from mtl_keras import transfer


def _variables():
    return [keras.Variable(np.ones(3, "float32"), name=n) for n in ("a", "b", "c")]


GRADS = [np.array([1.0, -2.0, 0.5], "float32")] * 3


def test_sgd_rates_scale_the_update_in_closed_form():
    variables = _variables()
    opt = transfer.DiscriminativeOptimizer(keras.optimizers.SGD(0.1), rates=[("a", 0.0), ("b", 0.5)])
    opt.apply(GRADS, variables)
    np.testing.assert_array_equal(variables[0].numpy(), np.ones(3))  # rate 0: does not move
    np.testing.assert_allclose(variables[1].numpy(), 1.0 - 0.05 * GRADS[1], rtol=1e-6)
    np.testing.assert_allclose(variables[2].numpy(), 1.0 - 0.1 * GRADS[2], rtol=1e-6)  # default rate 1
    assert int(opt.iterations.numpy()) == 1


def test_adam_rates_scale_the_first_step():
    variables = _variables()
    opt = transfer.DiscriminativeOptimizer(keras.optimizers.Adam(0.01), rates={"a": 0.0, "b": 0.25})
    opt.apply(GRADS, variables)
    np.testing.assert_array_equal(variables[0].numpy(), np.ones(3))
    step_b, step_c = 1.0 - variables[1].numpy(), 1.0 - variables[2].numpy()
    np.testing.assert_allclose(step_c, 0.01 * np.sign(GRADS[2]), rtol=1e-4)  # Adam's first step: lr·sign(g)
    np.testing.assert_allclose(step_b / step_c, 0.25, rtol=1e-4)


def test_learning_rate_changes_reach_every_group():
    variables = _variables()
    opt = transfer.DiscriminativeOptimizer(keras.optimizers.SGD(0.1), rates=[("b", 0.5)])
    opt.learning_rate = 0.2
    opt.apply(GRADS, variables)
    np.testing.assert_allclose(variables[1].numpy(), 1.0 - 0.1 * GRADS[1], rtol=1e-6)


def test_config_round_trip():
    opt = transfer.DiscriminativeOptimizer(keras.optimizers.SGD(0.1, momentum=0.9), rates=[("(.*/)?d1/.*", 0.1)], default_rate=0.5)
    again = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert isinstance(again, transfer.DiscriminativeOptimizer)
    assert again.rates == opt.rates and again.default_rate == 0.5
    assert again.template_config["config"]["momentum"] == 0.9


def test_layer_rates_decay_per_group(pretrained, target_data):
    tuner = transfer.FineTuner(pretrained, mk.Task("t", num_classes=2))
    pairs = transfer.layer_rates(tuner.model, decay=2.0)
    by_layer = {("heads" if "heads" in p else "d1" if "d1/" in p else "d2"): r for p, r in pairs}
    assert by_layer == {"heads": 1.0, "d2": 0.5, "d1": 0.25}


def test_rate_zero_group_does_not_move_in_training(pretrained, target_data):
    tuner = transfer.FineTuner(pretrained, mk.Task("t", num_classes=2)).compile(learning_rate=1e-2, rates=[1.0, 0.0])
    before = [w.copy() for w in tuner.model.body.get_weights()]
    heads = [w.copy() for w in tuner.model.heads.get_weights()]
    x, y = target_data
    tuner.fit(mk.data.shared_input_dataset(x, y, batch_size=16), epochs=1, verbose=0)
    for a, b in zip(before, tuner.model.body.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert any(not np.allclose(a, b) for a, b in zip(heads, tuner.model.heads.get_weights()))


def test_bad_rates(pretrained):
    tuner = transfer.FineTuner(pretrained, mk.Task("t", num_classes=2))
    with pytest.raises(ValueError, match="3 layer groups"):
        transfer.layer_rates(tuner.model, rates=[1.0, 0.5, 0.2, 0.1])
    with pytest.raises(ValueError, match="exactly one"):
        transfer.layer_rates(tuner.model)
    with pytest.raises(ValueError, match="decay must be >= 1"):
        transfer.layer_rates(tuner.model, decay=0.5)
    with pytest.raises(ValueError, match="rate >= 0"):
        transfer.DiscriminativeOptimizer("sgd", rates=[("a", -1.0)])


@pytest.mark.parametrize("kwargs, message", [
    (dict(decay=float("inf")), r"decay must be >= 1 and finite.*decay=inf"),  # would freeze every body group silently
    (dict(decay=float("nan")), r"decay=nan"),
    (dict(rates=[1.0, float("nan")]), r"rates >= 0\. Received: rates=\[1\.0, nan\]"),  # NaN rates wreck the weights
    (dict(rates=[1.0, float("inf")]), r"rates=\[1\.0, inf\]"),
])
def test_non_finite_decay_and_rates_are_refused(pretrained, kwargs, message):
    with pytest.raises(ValueError, match=message):
        transfer.layer_rates(pretrained, **kwargs)

"""`mtl_keras.registry.Registry`, the name -> object map of every family (samplers, weightings, zoo)."""

import keras
import pytest

from mtl_keras import samplers
from mtl_keras.registry import Registry


class Base:
    pass


def make():
    registry = Registry("widget")

    @registry.register("round_widget", paper="A et al.")
    class Round(Base):
        pass

    @registry.register("square_widget")
    class Square(Base):
        pass

    return registry, Round, Square


def test_register_get_and_list():
    registry, Round, Square = make()
    assert registry.get("round_widget") is Round and registry.get("square_widget") is Square
    assert registry.names() == ["round_widget", "square_widget"]
    assert registry.names("sq*") == ["square_widget"] and registry.names("x*") == []
    assert list(registry) == ["round_widget", "square_widget"] and len(registry) == 2
    assert "round_widget" in registry and "oval_widget" not in registry


def test_registering_a_name_twice():
    registry, Round, _ = make()
    assert registry.register("round_widget")(Round) is Round  # the same object again: allowed
    with pytest.raises(ValueError, match="A widget named 'round_widget' is already registered."):
        registry.register("round_widget")(type("Other", (Base,), {}))
    assert registry.get("round_widget") is Round


def test_unknown_names_suggest_close_ones_and_list_all():
    registry, _, _ = make()
    with pytest.raises(ValueError) as info:
        registry.get("rund_widget")
    assert str(info.value) == "Unknown widget: 'rund_widget'. Did you mean: round_widget, square_widget? Available: round_widget, square_widget."
    with pytest.raises(ValueError, match=r"Did you mean: round_widget\? Available"):
        registry.get("round_gadget_x")
    with pytest.raises(ValueError) as info:
        registry.get("zzz")
    assert str(info.value) == "Unknown widget: 'zzz'. Available: round_widget, square_widget."


def test_metadata_is_a_copy():
    registry, _, _ = make()
    meta = registry.metadata("round_widget")
    assert meta == {"paper": "A et al."} and registry.metadata("square_widget") == {}
    meta["paper"] = "changed"
    assert registry.metadata("round_widget") == {"paper": "A et al."}
    with pytest.raises(ValueError, match="Unknown widget: 'nope'"):
        registry.metadata("nope")


def test_unregister_removes_the_entry_and_its_metadata():
    registry, Round, Square = make()
    assert registry.unregister("round_widget") is Round
    assert "round_widget" not in registry and registry.names() == ["square_widget"] and len(registry) == 1
    with pytest.raises(ValueError, match="Unknown widget: 'round_widget'"):
        registry.unregister("round_widget")

    @registry.register("round_widget", paper="B")
    class NewRound(Base):  # the name can be registered anew, with new metadata
        pass

    assert registry.get("round_widget") is NewRound and registry.metadata("round_widget") == {"paper": "B"}


def test_resolve_names_instances_configs_and_none():
    registry, Round, Square = make()
    assert isinstance(registry.resolve("square_widget", Base, default="round_widget"), Square)
    assert isinstance(registry.resolve(None, Base, default="round_widget"), Round)
    instance = Square()
    assert registry.resolve(instance, Base, default="round_widget") is instance
    for bad in (3, object(), ["square_widget"]):
        with pytest.raises(ValueError, match="Cannot interpret a widget from: "):
            registry.resolve(bad, Base, default="round_widget")
    # a serialized object comes back through Keras, if it is of the family's base class
    config = keras.saving.serialize_keras_object(samplers.ProportionalSampler([1, 2], alpha=0.5))
    restored = samplers.SAMPLERS.resolve(config, samplers.TaskSampler, default="uniform")
    assert isinstance(restored, samplers.ProportionalSampler) and restored.get_config() == {"sizes": [1, 2], "alpha": 0.5}
    with pytest.raises(ValueError, match=r"Cannot interpret a widget from: \{"):
        registry.resolve(config, Base, default="round_widget")


def test_suggestions_are_the_five_closest_above_half_similarity():
    registry = Registry("widget")
    for i in range(7):
        registry.register(f"alpha_{i}")(type(f"A{i}", (Base,), {}))
    with pytest.raises(ValueError) as info:
        registry.get("alpha_")
    suggested = str(info.value).split("Did you mean: ")[1].split("?")[0].split(", ")
    assert len(suggested) == 5 and set(suggested) <= set(registry.names())
    far = Registry("widget")
    far.register("abcvwxyz")(Base)  # similarity of "abc": 2·3 / 11 ≈ 0.55, above the 0.5 cutoff
    with pytest.raises(ValueError, match=r"Did you mean: abcvwxyz\?"):
        far.get("abc")


def test_resolving_by_name_a_class_that_needs_arguments_says_so():
    with pytest.raises(ValueError, match=r"The task sampler 'proportional' needs arguments.*ProportionalSampler\(sizes"):
        samplers.SAMPLERS.resolve("proportional", samplers.TaskSampler, default="uniform")


def test_a_list_of_weights_given_as_a_strategy_points_to_static_weighting():
    from mtl_keras import weighting

    with pytest.raises(ValueError, match=r"Cannot interpret a weighting strategy from: \[1\.0, 2\.0\].*StaticWeighting\(weights=\.\.\.\)"):
        weighting.get([1.0, 2.0])

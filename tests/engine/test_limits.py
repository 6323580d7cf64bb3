import pytest

from engine import Config, param_shapes
from engine.limits import SETTINGS, Limit, count_params


def test_every_config_field_has_a_limit_and_the_defaults_fit():
    assert set(SETTINGS) == set(Config.__dataclass_fields__)
    for name, limit in SETTINGS.items():
        assert limit.check(getattr(Config(), name), name) == getattr(Config(), name)


@pytest.mark.parametrize("config", [Config(), Config(n_layer=3, n_embd=12, n_head=3,
                                                     block_size=5)])
def test_the_weights_are_counted_without_building_the_list_of_shapes(config):
    assert count_params(config, 30) == sum(rows * cols
                                          for _, rows, cols in param_shapes(config, 30))


@pytest.mark.parametrize("value", [True, False, None, "1", [1], float("nan"), float("inf"),
                                   10**400])
def test_only_finite_numbers_that_are_not_booleans_fit_a_number_limit(value):
    with pytest.raises(ValueError, match=r"^x must be a finite number, got "):
        Limit().check(value, "x")


def test_a_list_is_checked_item_by_item_past_a_sum_that_overflows():
    # Every item is finite though their sum is not: the quick path must not refuse them.
    Limit().check_all([1e308, 1e308], "w")
    with pytest.raises(ValueError, match=r"^w\[1\] must be a finite number >= 0, got -0.5$"):
        Limit(0).check_all([1.0, -0.5], "w")

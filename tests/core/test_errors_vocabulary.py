"""The argument-checking vocabulary of initlab.errors: one message form, values normalised."""

import math

import numpy as np
import pytest

from initlab.errors import (InitlabError, MissingExtraError, check_bool, check_exclusive, check_int,
                            check_number, check_type, fail, require_extra)


@pytest.mark.parametrize("value, kw, ok", [
    (3, {"minimum": 1}, 3), (np.int64(4), {"minimum": 1}, 4), (0, {"minimum": 0, "maximum": 0}, 0),
])
def test_check_int_accepts_integers_in_range(value, kw, ok):
    out = check_int("n", value, **kw)
    assert out == ok and type(out) is int


@pytest.mark.parametrize("value", [2.5, 2.0, "2", True, None, [2], 0, 65])
def test_check_int_rejects_everything_else_in_the_standard_form(value):
    with pytest.raises(InitlabError) as e:
        check_int("depth", value, minimum=1, maximum=64)
    msg = str(e.value)
    assert msg.startswith(f"depth: got {value!r}; allowed: an integer >= 1 and <= 64")
    assert "\n" not in msg


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "0.1", None, False, -1e-12, 1.0])
def test_check_number_rejects_nan_inf_wrong_types_and_out_of_range(value):
    with pytest.raises(InitlabError, match=r"^tol: got .*; allowed: a finite number >= 0 and < 1$"):
        check_number("tol", value, minimum=0.0, maximum=1.0, open_max=True)


def test_check_number_returns_floats_in_range():
    assert check_number("tol", 0, minimum=0.0) == 0.0
    assert type(check_number("tol", 1, minimum=0.0)) is float


def test_check_bool_and_type():
    assert check_bool("flag", False) is False
    with pytest.raises(InitlabError, match=r"^flag: got 1; allowed: True or False$"):
        check_bool("flag", 1)
    with pytest.raises(InitlabError, match=r"^model: got list \[1\]; allowed: an nn.Module$"):
        check_type("model", [1], dict, "an nn.Module")


def test_check_exclusive_names_both():
    check_exclusive(generator=None, seed=3)
    with pytest.raises(InitlabError, match=r"^generator and seed: got both; allowed: at most one of generator=, seed="):
        check_exclusive(generator=object(), seed=3)


def test_fail_builds_the_form_with_a_hint():
    e = fail("scheme", "he_nromal", "a registered name", hint="; did you mean 'he_normal'?")
    assert str(e) == "scheme: got 'he_nromal'; allowed: a registered name; did you mean 'he_normal'?"


def test_require_extra_names_the_extra_in_one_line():
    with pytest.raises(MissingExtraError) as e:
        require_extra("initlab_no_such_module_xyz", "keras")
    msg = str(e.value)
    assert "pip install 'initlab[keras]'" in msg and "\n" not in msg
    assert isinstance(e.value, ImportError) and isinstance(e.value, InitlabError)
    assert require_extra("math", "none") is math

import pytest

from analyzer.config import builtin_profiles, load_policy, parse_policy
from analyzer.errors import InputError
from analyzer.model import Policy


def test_default_profile_spells_out_the_builtin_defaults():
    assert "default" in builtin_profiles()
    assert load_policy("default") == Policy() == load_policy(None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("alpha_fail: [1", "not valid YAML"),
        ("- a\n- b\n", "a profile is a mapping"),
        ("metrics:\n  e: {kind: ratio, pass_ratio: 0.5}\n", "metrics.e.pass_ratio"),
        (
            "metrics:\n  e: {kind: ratio, slo: {limit: 0.01, warning: 0.02}}\n",
            "warning (0.02) must not exceed",
        ),
        ("unknown_key: 1\n", "unknown_key"),
    ],
)
def test_bad_profiles_name_the_problem(text, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_policy(text, "p.yaml")

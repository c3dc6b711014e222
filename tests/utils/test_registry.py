"""The registries' messages."""

import os

import pytest

import ding
from ding.utils.registry import POLICY_REGISTRY, RegistryError


def test_an_unknown_type_says_which_ding_is_in_use():
    """A type added to another copy of ding (a clone, not installed) is unknown here: the message says which ding
    answered, so that is seen at once."""
    with pytest.raises(RegistryError) as err:
        POLICY_REGISTRY.get("a_policy_of_another_copy")
    assert f"this is the ding at {os.path.dirname(os.path.abspath(ding.__file__))}" in str(err.value)

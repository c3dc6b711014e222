"""What a config number may be: the rule compile_config checks besides the type of the key's default.

Without a declaration, a key whose default is a number (not a bool) takes its rule from that default:

- NaN is refused, and so is +-inf where the default is finite;
- where the default is not negative, a negative value is refused (learning rates, sizes, counts, weights,
  probabilities, intervals: none of them means anything below zero).

A component declares more next to its defaults, in a ``config_rules`` dict keyed like its ``config`` (dotted for
nested keys): a stricter minimum (``at_least(1)`` for a count, ``positive()`` for a step size), a maximum, another
sign (``any_sign()``: a default >= 0 that may still go negative), or, for a key whose default is None, the types a
value may have (``optional((int, float))``: a number or None). Policies' rules merge along the class hierarchy as
their defaults do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Optional

NUMBER = (int, float)


@dataclass(frozen=True)
class Rule:
    """What a config value must be; ``None`` fields check nothing."""

    types: tuple[type, ...] = ()  # a None-default key: the types a value may have besides None (int: 1e3 -> 1000)
    minimum: Optional[float] = None  # the smallest value allowed
    exclusive: bool = False  # the minimum itself is refused (> rather than >=)
    maximum: Optional[float] = None  # the largest value allowed
    finite: bool = True  # +-inf refused (NaN always is)

    def kind(self, default: Any = None) -> str:
        """'int' or 'number': what the key holds (from the declared types, else from the default's type)."""
        if self.types:
            return "number" if float in self.types else "int"
        return "int" if isinstance(default, int) and not isinstance(default, bool) else "number"

    def describe(self, kind: str = "number") -> str:
        """The rule in words, e.g. 'a finite number > 0', 'an int >= 1', 'a non-NaN number or None'."""
        bounded = self.minimum is not None and self.maximum is not None  # no inf then: "finite" says nothing more
        if kind == "int":
            noun = "an int"
        else:
            noun = "a number" if bounded else "a finite number" if self.finite else "a non-NaN number"
        if self.minimum is not None and self.maximum is not None:
            noun += f" in {'(' if self.exclusive else '['}{_num(self.minimum)}, {_num(self.maximum)}]"
        elif self.minimum is not None:
            noun += f" {'>' if self.exclusive else '>='} {_num(self.minimum)}"
        elif self.maximum is not None:
            noun += f" <= {_num(self.maximum)}"
        return f"{noun} or None" if self.types else noun


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def positive() -> Rule:
    """> 0: a step size, a rate, a time."""
    return Rule(minimum=0, exclusive=True)


def at_least(minimum: float) -> Rule:
    """>= ``minimum``: a count (``at_least(1)``)."""
    return Rule(minimum=minimum)


def between(minimum: float, maximum: float) -> Rule:
    """In [minimum, maximum]: a probability, a discount."""
    return Rule(minimum=minimum, maximum=maximum)


def any_sign() -> Rule:
    """A number of either sign (still finite): for a key whose default is >= 0 but whose negative values mean
    something."""
    return Rule()


def optional(types: tuple[type, ...] = NUMBER, rule: Optional[Rule] = None, finite: bool = True) -> Rule:
    """A key whose default is None: None or a value of ``types`` that follows ``rule`` (e.g. ``positive()``)."""
    return replace(rule or Rule(), types=tuple(types), finite=finite)


def implicit_rule(default: Any) -> Rule:
    """The rule of an undeclared key whose default is a number: no NaN, no inf where the default is finite, no
    negative value where the default is not negative."""
    return Rule(minimum=0 if default >= 0 else None, finite=math.isfinite(default))


def check_number(value: Any, rule: Rule, kind: str = "number") -> Optional[str]:
    """What is wrong with the number ``value`` under ``rule`` ('must be ...'), or None."""
    if math.isnan(value) or (rule.finite and math.isinf(value)):
        return f"must be {rule.describe(kind)}"
    low_ok = rule.minimum is None or (value > rule.minimum if rule.exclusive else value >= rule.minimum)
    high_ok = rule.maximum is None or value <= rule.maximum
    return None if low_ok and high_ok else f"must be {rule.describe(kind)}"


def class_rules(cls: type) -> dict[str, Rule]:
    """A component class's ``config_rules``, merged along its MRO (a subclass's rule for a key wins)."""
    rules: dict[str, Rule] = {}
    for klass in reversed(cls.__mro__):
        rules.update(vars(klass).get("config_rules", {}))
    return rules

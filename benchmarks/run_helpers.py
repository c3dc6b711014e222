"""What the run scripts (run_atari100k.py, run_mujoco.py) share: variants of a shipped config (``--set KEY=VALUE``
items, parsed here and applied to the config in the training child process: ``from benchmarks.run_helpers import
apply_overrides``), the commit a run started from (for its rows' notes) and the check of a results CSV's header; and
what the report scripts share: writing their tables into a doc (``--doc``)."""

from __future__ import annotations

import ast
import csv
import os
import subprocess
import sys
from collections.abc import Callable

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_overrides(items: list[str]) -> list[tuple[str, object]]:
    """``["policy.learn.x=1", "env.y='a'"]`` -> ``[("policy.learn.x", 1), ("env.y", "a")]``: a dotted key of
    main_config and a Python literal.

    :raises ValueError: an item without '=' or whose value is not a Python literal (strings need quotes).
    """
    overrides = []
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set {item!r}: write KEY=VALUE, e.g. policy.model.init_type='xavier'")
        try:
            value = ast.literal_eval(text)
        except (SyntaxError, ValueError):
            raise ValueError(
                f"--set {item!r}: {text!r} is not a Python literal (quote strings: {key}={text!r})"
            ) from None
        overrides.append((key.strip(), value))
    return overrides


def apply_overrides(config: dict, overrides: list[tuple[str, object]]) -> None:
    """Set each dotted key of ``config`` (main_config) to its value, making the dicts on the way as needed."""
    for path, value in overrides:
        *parents, leaf = path.split(".")
        node = config
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value


def describe(overrides: list[tuple[str, object]]) -> str:
    """The overrides as one line, as they were given: ``policy.model.init_type='xavier', ...``."""
    return ", ".join(f"{path}={value!r}" for path, value in overrides)


RESULTS = ":(exclude)docs/benchmarks/*.csv"  # the run scripts' own results: appending to them is not a code change


def commit() -> str:
    """The checkout's commit, "+modified" when tracked files other than the results CSVs differ from it; "unknown"
    outside a git checkout."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "-uno", "--", ".", RESULTS], cwd=REPO, capture_output=True, text=True
        )
    except OSError:
        return "unknown"
    if head.returncode != 0:
        return "unknown"
    return head.stdout.strip() + ("+modified" if dirty.stdout.strip() else "")


def header_problem(path: str, columns: list[str]) -> str | None:
    """Why rows of ``columns`` cannot be appended to the CSV at ``path`` (its header is another), or None."""
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return None
    with open(path, newline="") as f:
        header = next(csv.reader(f), [])
    if header != columns:
        return f"{path} has the columns {header}, not this runner's {columns}: give another --csv, or convert the file"
    return None


def rewrite_doc(path: str, fill: Callable[[str], str]) -> None:
    """``path``'s text replaced by ``fill(text)`` (a report's tables written into a doc); a ValueError from ``fill``
    (the doc lacks the lines that mark where a table goes) ends the script with ``--doc <path>: <why>``, the file
    left as it was."""
    with open(path) as f:
        text = f.read()
    try:
        text = fill(text)
    except ValueError as err:
        sys.exit(f"--doc {path}: {err}")
    with open(path, "w") as f:
        f.write(text)

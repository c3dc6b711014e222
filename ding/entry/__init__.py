"""Entry points: serial_pipeline (train off-policy), serial_pipeline_onpolicy (train on-policy), eval (evaluate a
checkpoint) and run_main (a script's end: errors as one line and exit code 2, as the ``ding`` command).

They are imported on first use, so that ``ding.entry.cli`` starts (and installs its preemption handler) before torch
is imported; ``from ding.entry import serial_pipeline`` works as usual.
"""

from __future__ import annotations

import importlib
from typing import Any

_ENTRIES = {
    "eval": "ding.entry.application_entry",
    "run_main": "ding.entry.script",
    "serial_pipeline": "ding.entry.serial_entry",
    "serial_pipeline_onpolicy": "ding.entry.serial_entry_onpolicy",
}
__all__ = sorted(_ENTRIES)


def __getattr__(name: str) -> Any:
    if name in _ENTRIES:
        return getattr(importlib.import_module(_ENTRIES[name]), name)
    raise AttributeError(f"module 'ding.entry' has no attribute '{name}'")

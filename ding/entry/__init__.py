"""Entry points: serial_pipeline (train) and eval (evaluate a checkpoint)."""

from .application_entry import eval
from .serial_entry import serial_pipeline

__all__ = ["eval", "serial_pipeline"]

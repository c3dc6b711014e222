"""Entry points: serial_pipeline (train off-policy), serial_pipeline_onpolicy (train on-policy) and eval (evaluate a
checkpoint)."""

from .application_entry import eval
from .serial_entry import serial_pipeline
from .serial_entry_onpolicy import serial_pipeline_onpolicy

__all__ = ["eval", "serial_pipeline", "serial_pipeline_onpolicy"]

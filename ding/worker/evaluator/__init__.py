from .interaction_serial_evaluator import InteractionSerialEvaluator

__all__ = ["InteractionSerialEvaluator"]

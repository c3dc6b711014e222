from .collector import SampleSerialCollector
from .evaluator import InteractionSerialEvaluator
from .learner import BaseLearner

__all__ = ["BaseLearner", "InteractionSerialEvaluator", "SampleSerialCollector"]

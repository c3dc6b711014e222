from .collector import RolloutCollector, SampleSerialCollector
from .evaluator import InteractionSerialEvaluator
from .learner import BaseLearner

__all__ = ["BaseLearner", "InteractionSerialEvaluator", "RolloutCollector", "SampleSerialCollector"]

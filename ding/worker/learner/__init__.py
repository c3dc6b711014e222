from .base_learner import BaseLearner

__all__ = ["BaseLearner"]

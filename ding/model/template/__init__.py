"""DI-engine's module path for the model templates (``from ding.model.template.q_learning import DQN``)."""

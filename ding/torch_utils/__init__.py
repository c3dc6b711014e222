from .data import obs_to_tensor, to_device
from .optimizer import build_adam

__all__ = ["build_adam", "obs_to_tensor", "to_device"]

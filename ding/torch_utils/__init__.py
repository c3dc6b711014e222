from .data import obs_to_tensor, to_device

__all__ = ["obs_to_tensor", "to_device"]

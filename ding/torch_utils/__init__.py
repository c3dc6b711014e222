from .data import obs_to_tensor, to_device
from .data_parallel import DataParallel
from .optimizer import build_adam

__all__ = ["DataParallel", "build_adam", "obs_to_tensor", "to_device"]

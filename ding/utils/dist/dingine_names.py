"""DI-engine's names for starting and ending the process group, so its DDP scripts and guide run unchanged:

with DDPContext():                                   # = DistContext
    main_config = to_ddp_config(main_config)         # ding.config.ddp.to_ddp_config
    serial_pipeline((main_config, create_config), seed=0)

rank, world_size = dist_init()                       # a DistContext entered by hand ...
dist_finalize()                                      # ... and left
"""

from __future__ import annotations

from typing import Optional

from .context import DistContext

_OPEN: list[DistContext] = []  # the context dist_init entered and dist_finalize leaves


class DDPContext(DistContext):
    """DI-engine's name for :class:`DistContext` (same arguments, all optional; the launcher is read from the
    environment)."""


def dist_init(
    backend: Optional[str] = None,
    addr: Optional[str] = None,
    port: Optional[int | str] = None,
    rank: Optional[int] = None,
    world_size: Optional[int] = None,
) -> tuple[int, int]:
    """Start the process group as ``DistContext().__enter__`` does (DI-engine's signature); returns
    ``(rank, world_size)``. End it with :func:`dist_finalize`.

    :param backend: 'nccl' or 'gloo'; default nccl with CUDA, else gloo (DI-engine's default is always nccl).
    :param addr, port: the rendezvous address; default: from the launcher's environment.
    :param rank, world_size: given explicitly (inside ``torch.multiprocessing.spawn``); default: from the launcher.
    """
    if _OPEN:
        raise RuntimeError("dist_init: the process group is already started; call dist_finalize() first")
    context = DistContext(
        backend=backend,
        rank=rank,
        world_size=world_size,
        master_addr=addr,
        master_port=int(port) if port is not None else None,
    )
    context.__enter__()
    _OPEN.append(context)
    info = context.info
    return info.rank, info.world_size


def dist_finalize() -> None:
    """End the process group :func:`dist_init` started (all ranks must call it; a no-op if none was started)."""
    if _OPEN:
        _OPEN.pop().__exit__(None, None, None)

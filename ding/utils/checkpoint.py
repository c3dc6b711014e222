"""Checkpoint files: written atomically, never non-finite, read with ``weights_only=True`` and with errors that say
what is wrong.

What ding writes holds only tensors and plain Python values (dicts, lists, tuples, numbers, strings, None), so
``torch.load(path, weights_only=True)`` reads it: random generator states are stored as lists of ints, never as
numpy arrays. Checkpoints of earlier ding versions pickled numpy arrays (numpy's generator state) and EasyDicts
(the config): those still load, through an unrestricted load and one warning line.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import zipfile
from collections.abc import Iterator
from typing import Any, Optional

import numpy as np
import torch

from ding.config.config import ConfigError

LATEST = "latest.pth.tar"  # a symlink to the newest checkpoint of the run, what resume loads
# the Python objects earlier ding versions pickled into checkpoints: loaded without weights_only, with a warning
OLDER_DING_GLOBALS = ("numpy.", "easydict.")

logger = logging.getLogger("ding.checkpoint")
_warned_older: set[str] = set()  # files already reported as written by an older ding (one warning per file)


class CheckpointError(ConfigError):
    """A checkpoint that cannot be used (missing, truncated, corrupt, not a ding checkpoint): the message names the
    file. A :class:`ConfigError`, so ``ding`` exits with code 2 on it.

    :param path: the file.
    :param problem: what is wrong with it, e.g. "is truncated or corrupt (...)".
    :param advice: what to do, appended as a sentence.
    :param what: the kind of file named in the message.
    """

    def __init__(self, path: str, problem: str, advice: str = "", what: str = "checkpoint") -> None:
        self.path, self.problem = path, problem
        super().__init__(f"{what} '{path}' {problem}" + (f". {advice}" if advice else ""))


DAMAGED_ADVICE = "Use another checkpoint of the run, or start without it"


def tensors_finite(state: Any) -> bool:
    """True when every floating-point tensor or array in a (nested) state is finite.

    The tensors are checked in one flat pass per device and dtype (one reduction each, one device sync), not one
    per tensor: a model's state dict holds dozens of them and a checkpoint is written at every best evaluation.
    """
    groups: dict[tuple[Any, Any], list[torch.Tensor]] = {}
    for leaf in _float_leaves(state):
        if isinstance(leaf, np.ndarray):
            if not np.isfinite(leaf).all():
                return False
        else:
            groups.setdefault((leaf.device, leaf.dtype), []).append(leaf.detach().reshape(-1))
    # 0 * x is 0 for every finite x and NaN for inf and NaN, so the sum is 0 exactly when all are finite: two
    # cheap ops (isfinite().all() is ~4x slower on the CPU)
    return all(bool(torch.cat(flat).mul(0).sum() == 0) for flat in groups.values())


def _float_leaves(state: Any) -> Iterator[Any]:
    if isinstance(state, torch.Tensor):
        if state.is_floating_point():
            yield state
    elif isinstance(state, np.ndarray):
        if np.issubdtype(state.dtype, np.floating):
            yield state
    elif isinstance(state, dict):
        for value in state.values():
            yield from _float_leaves(value)
    elif isinstance(state, (list, tuple)):
        for value in state:
            yield from _float_leaves(value)


def save_checkpoint(state: dict[str, Any], path: str) -> str:
    """Write ``state`` to ``path`` via a temporary file and a rename, so a crash never leaves a half file.

    :raises ValueError: the model holds NaN or inf (the file is not written, an earlier good one stays).
    """
    if not tensors_finite(state.get("model", {})):
        raise ValueError(f"not writing checkpoint '{path}': the model's parameters hold NaN or inf")
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def link_latest(path: str) -> None:
    """Point ``<ckpt dir>/latest.pth.tar`` at ``path`` (atomically: a new symlink renamed over the old one)."""
    directory, name = os.path.split(path)
    link = os.path.join(directory, LATEST)
    tmp = f"{link}.tmp.{os.getpid()}"
    if os.path.lexists(tmp):
        os.remove(tmp)
    os.symlink(name, tmp)
    os.replace(tmp, link)


def load_checkpoint(path: str, map_location: Any = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (or a DI-engine-style dict with a 'model' entry).

    :raises CheckpointError: the file is missing, truncated or corrupt, holds objects a weights-only load refuses
        (other than an older ding's), or is not a ding checkpoint.
    """
    if os.path.isdir(path):
        raise CheckpointError(path, f"is a folder, not a checkpoint file; {_checkpoints_in(path)}")
    if not os.path.isfile(path):
        raise CheckpointError(path, f"does not exist (working directory: {os.getcwd()})")
    state = load_weights_only(path, map_location)
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(path, "holds no 'model' state dict; is it a ding checkpoint?")
    return state


def _checkpoints_in(folder: str) -> str:
    """The checkpoints in ``folder`` (or in its ``ckpt/``: an experiment folder), to name in a message."""
    for where in (folder, os.path.join(folder, "ckpt")):
        if os.path.isdir(where):
            names = sorted(name for name in os.listdir(where) if name.endswith(".pth.tar"))
            if names:
                shown = ", ".join(os.path.join(where, name) for name in names[:8])
                return f"give one of its checkpoints: {shown}" + (
                    f" (and {len(names) - 8} more)" if len(names) > 8 else ""
                )
    return "it holds no *.pth.tar checkpoint (nor does its ckpt/): give a checkpoint file"


def _not_a_torch_file(path: str) -> Optional[str]:
    """Why ``path`` cannot be a checkpoint whatever its damage (empty; not a zip archive nor a pickle, the two
    formats torch.save writes), or None when it may be a damaged one."""
    with open(path, "rb") as f:
        head = f.read(4)
    if not head:
        return "is empty, not a checkpoint"
    if head.startswith(b"PK") or head.startswith(b"\x80"):  # torch.save's zip archive; its legacy pickle
        return None
    return "is not a checkpoint written by ding (torch.save): it is neither a torch zip archive nor a pickle"


def load_weights_only(path: str, map_location: Any = "cpu") -> Any:
    """``torch.load(path, weights_only=True)``, with one exception: a file that fails only because it pickles the
    objects an earlier ding wrote (numpy arrays, EasyDicts; :data:`OLDER_DING_GLOBALS`) is loaded without the
    restriction, and a warning line says so. Any other failure is a :class:`CheckpointError` naming the file.

    The file's CRC32s are checked too: torch reads tensor bytes without them, so a flipped byte in a weight would
    load silently (the check reads the file once more, ~10 ms for an Atari DQN checkpoint; loads are rare).
    """
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        failure = err
    else:
        _check_crc(path)
        return state
    unsafe = _unsafe_globals(path)  # None: not a readable torch archive (truncated, corrupt, not a checkpoint)
    if not unsafe:
        problem = _not_a_torch_file(path)
        if problem:
            raise CheckpointError(path, problem, "Give a *.pth.tar file of a run's ckpt/ folder") from None
        raise CheckpointError(path, f"is truncated or corrupt ({_first_sentence(failure)})", DAMAGED_ADVICE) from None
    foreign = [name for name in unsafe if not name.startswith(OLDER_DING_GLOBALS)]
    if foreign:
        raise CheckpointError(
            path,
            f"holds Python objects a weights-only load refuses ({', '.join(foreign)}), so ding does not load it",
            "If you trust the file, read it with torch.load(path, weights_only=False) and save its tensors again",
        )
    if path not in _warned_older and _is_rank0():
        _warned_older.add(path)
        logger.warning(
            f"ding: warning: checkpoint '{path}' was written by an older ding (it pickles {', '.join(unsafe)}): "
            f"loaded with torch.load(weights_only=False); a checkpoint written now loads with weights_only=True"
        )
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:
        raise CheckpointError(path, f"is truncated or corrupt ({_first_sentence(err)})", DAMAGED_ADVICE) from None
    _check_crc(path)
    return state


def _check_crc(path: str) -> None:
    """Raise CheckpointError when a member of the checkpoint's zip archive fails its CRC32."""
    if not zipfile.is_zipfile(path):  # torch's legacy (pre-1.6) format: no checksums to check
        return
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        bad = f"{type(err).__name__}: {err}"
    if bad is not None:
        raise CheckpointError(path, f"is truncated or corrupt (checksum mismatch in {bad})", DAMAGED_ADVICE)


def _first_sentence(err: Exception) -> str:
    """``Type: first sentence`` of an exception (torch's errors go on for a paragraph)."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{type(err).__name__}: {text.split('. ')[0].rstrip('.')}"


def _unsafe_globals(path: str) -> Optional[list[str]]:
    try:
        return torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:
        return None


def _is_rank0() -> bool:
    from ding.utils.dist import get_rank

    return get_rank() == 0


SNAPSHOT_META = "snapshot"  # a replay snapshot's own facts (a dict): its checkpoint's train_iter, rank, world size


def buffer_snapshot_name(rank: int, world_size: int) -> str:
    """The folder under ``ckpt/`` of a rank's replay buffer snapshot: ``replay_buffer`` in a single process; under
    DDP every rank, rank 0 included, has its own ``replay_buffer_rank<R>`` (the ranks' buffers hold different data,
    and a run resumed with another number of ranks must not take another layout's snapshot for its own)."""
    return "replay_buffer" if world_size == 1 else f"replay_buffer_rank{rank}"


def save_arrays(arrays: dict[str, Any], path: str) -> str:
    """Snapshot a dict of numpy arrays (and small picklable values) as a folder of .npy files, atomically.

    Arrays are written straight from their memory (no copy), so a multi-GB replay buffer does not double the
    process's memory. ``path`` is a symlink to the folder of the newest complete snapshot: each snapshot is written
    into a folder of its own beside it, then the link is switched to that folder in one rename and the folder it
    pointed to is removed. A write killed at any point leaves ``path`` at a complete snapshot, the previous or the
    new one; what a killed write left beside it is removed by the next write. (A directory cannot be renamed over
    a non-empty one, so swapping folders under one name always has a moment with no snapshot under it.)
    """
    directory, name = os.path.split(os.path.abspath(path))
    folder = f"{name}.{os.getpid()}.{time.time_ns()}"
    os.makedirs(os.path.join(directory, folder))
    scalars = {}
    for key, value in arrays.items():
        if isinstance(value, np.ndarray):
            _save_npy(os.path.join(directory, folder, f"{key}.npy"), value)
        else:
            scalars[key] = value
    torch.save(scalars, os.path.join(directory, folder, "scalars.pt"))
    if os.path.isdir(path) and not os.path.islink(path):  # a folder written before snapshots were links: moved
        os.replace(path, os.path.join(directory, f"{name}.unlinked"))  # aside (once, not atomically), removed below
    link = f"{path}.link.{os.getpid()}"
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(folder, link)  # relative: the experiment folder can be moved
    os.replace(link, path)
    for entry in os.listdir(directory):  # the previous snapshot, and what killed writes left behind
        if entry.startswith(f"{name}.") and entry != folder:
            stale = os.path.join(directory, entry)
            if os.path.isdir(stale) and not os.path.islink(stale):
                shutil.rmtree(stale, ignore_errors=True)
            else:
                os.remove(stale)
    return path


SPARSE_CHUNK = 1 << 22  # bytes: a large array's all-zero runs of this size are left as holes in its .npy file


def _save_npy(file: str, array: np.ndarray) -> None:
    """``np.save`` (the same file, read back by ``np.load``), but a large array's all-zero chunks are skipped over,
    leaving holes: a replay buffer snapshotted before it has filled (its preallocated arrays mostly zeros: 800 MB
    of Atari frames early in a 100k run) writes and occupies only what it holds. The file's size is the same."""
    if array.nbytes < 4 * SPARSE_CHUNK or not array.flags.c_contiguous or array.dtype.hasobject:
        np.save(file, array, allow_pickle=False)
        return
    header = np.lib.format.header_data_from_array_1_0(array)
    data = array.reshape(-1).view(np.uint8)
    with open(file, "wb") as f:
        try:
            np.lib.format.write_array_header_1_0(f, header)
        except ValueError:  # a header over 64 KiB (a very long shape or field list)
            np.lib.format.write_array_header_2_0(f, header)
        for start in range(0, data.size, SPARSE_CHUNK):
            chunk = data[start : start + SPARSE_CHUNK]
            if chunk.any():
                f.write(memoryview(chunk))
            else:
                f.seek(chunk.size, os.SEEK_CUR)
        f.truncate()  # a trailing hole: the file still ends where the data does


def load_arrays(path: str, mmap: bool = False) -> dict[str, Any]:
    """Read a snapshot written by :func:`save_arrays` (its scalars with ``weights_only=True``, its arrays without
    pickle).

    :param mmap: map the arrays read-only instead of reading them (their sizes are checked, nothing is copied yet):
        a caller can check a multi-GB snapshot, then copy it into place.
    :raises CheckpointError: the folder is missing or a file in it is truncated or corrupt (named).
    """
    if not os.path.isdir(path):
        raise CheckpointError(path, "does not exist", what="snapshot folder")
    state = dict(load_weights_only(os.path.join(path, "scalars.pt")))
    for name in os.listdir(path):
        if name.endswith(".npy"):
            file = os.path.join(path, name)
            try:
                state[name[: -len(".npy")]] = np.load(file, mmap_mode="r" if mmap else None, allow_pickle=False)
            except (OSError, ValueError, EOFError) as err:
                raise CheckpointError(
                    file, f"is truncated or corrupt ({_first_sentence(err)})", what="snapshot file"
                ) from None
    return state

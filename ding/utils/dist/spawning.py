"""Start the ranks of one job on this host with ``torch.multiprocessing.spawn``."""

from __future__ import annotations

import argparse
import ast
import os
import pickle
import sys
from collections.abc import Callable
from typing import Any

from .launchers import DistConfigError, detect_launcher, free_port


def _spawn_entry(local_rank: int, fn: Callable, nprocs: int, port: int, args: tuple) -> None:
    # the variables torchrun sets, plus a mark so that detect_launcher names the launcher 'spawn'
    os.environ.update(
        RANK=str(local_rank),
        LOCAL_RANK=str(local_rank),
        WORLD_SIZE=str(nprocs),
        LOCAL_WORLD_SIZE=str(nprocs),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        DING_DIST_LAUNCHER="spawn",
    )
    fn(*args)


def spawn(fn: Callable, nprocs: int, *args: Any) -> None:
    """Run ``fn(*args)`` in ``nprocs`` new processes on this host, as ranks of one job.

    ``fn`` must be importable (a module-level function) and enter ``DistContext()`` itself, which then reads its rank
    from the environment set here. Blocks until all ranks end; raises if one failed. A rank that ended with
    ``sys.exit(code)`` has said why (``ding.entry.run_main``: one line, code 2; a stopped peer: 3): that exit code is
    raised as ``SystemExit`` here, without a traceback of this process.

    :raises DistConfigError: before any process starts, for what it could not run (see :func:`check_spawn`).
    """
    check_spawn(fn, nprocs, *args)
    import torch.multiprocessing as mp

    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # read by each new interpreter before our code runs
        os.environ.setdefault(var, "1")
    try:
        mp.spawn(_spawn_entry, args=(fn, nprocs, free_port(), args), nprocs=nprocs, join=True)
    except mp.ProcessExitedException as err:
        if err.exit_code is not None and err.exit_code > 0:  # negative: killed by a signal, which said nothing
            raise SystemExit(err.exit_code) from None
        raise


def process_count(text: str) -> int:
    """argparse type of a number of processes to start (``--spawn N``): a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of processes >= 1 such as 2, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of processes >= 1, got '{text}'")
    return value


def check_spawn(fn: Callable, nprocs: Any, *args: Any) -> None:
    """Refuse, before any process starts, what :func:`spawn` cannot run: :class:`DistConfigError` saying why.

    Each rank is a new interpreter that imports ``fn`` by module and name: a lambda or a nested function cannot be
    pickled, and one defined under ``if __name__ == "__main__":`` does not exist in the child, which runs the main
    script as ``__mp_main__`` (every rank would print an AttributeError). Spawning from a process that is itself a
    rank of a launched job would start a second, independent job.
    """
    if isinstance(nprocs, bool) or not isinstance(nprocs, int) or nprocs < 1:
        raise DistConfigError(f"spawn: nprocs must be an int >= 1 (the number of ranks to start), got {nprocs!r}")
    launch = detect_launcher()
    if launch.world_size > 1:
        raise DistConfigError(
            f"spawn: this process is already rank {launch.rank} of a {launch.world_size}-process job started by "
            f"{launch.label}; spawning {nprocs} more would start another, independent job. Use the launcher or "
            f"spawn (--spawn), not both"
        )
    for what in (fn, *args):  # run_main(fn, ...) through spawn: the user's function is an argument
        name = getattr(what, "__qualname__", None) or repr(what)
        try:
            pickle.dumps(what)
        except Exception as err:
            raise DistConfigError(
                f"spawn: {name} cannot be sent to the new processes ({type(err).__name__}: {err}); pass a function "
                f"defined at the top level of a module (not a lambda, nor a function defined inside another)"
            ) from None
        if callable(what) and getattr(what, "__module__", None) == "__main__" and "." not in name:
            where = _main_script_defines(name)
            if where is not None:
                raise DistConfigError(
                    f"spawn: {name} {where}, so the new processes, which import the main script as a module, "
                    f"cannot find it; define it at the top level of the script, outside `if __name__ == "
                    f'"__main__":`'
                )


def _main_script_defines(name: str) -> str | None:
    """Why the spawned processes will not find ``name`` in the main script, or None (they will, or we cannot tell)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path is None:
        return "is defined in an interactive session or `python -c` code"
    try:
        tree = ast.parse(open(path, encoding="utf-8").read())
    except (OSError, SyntaxError, ValueError):
        return None
    return None if name in _top_level_names(tree.body) else f"is not defined at the top level of {path}"


def _top_level_names(body: list) -> set[str]:
    """Names a module binds when imported, not run as the main script: `if __name__ == "__main__":` blocks left
    out (other if/try blocks counted whole: a name they may bind is given the benefit of the doubt)."""
    names: set[str] = set()
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.If):
            if not _is_main_guard(node.test):
                names |= _top_level_names(node.body)
            names |= _top_level_names(node.orelse)
        elif isinstance(node, (ast.Try, ast.With, ast.For, ast.While)):
            for part in ("body", "orelse", "finalbody", "handlers"):
                for child in getattr(node, part, []):
                    names |= _top_level_names(child.body if isinstance(child, ast.ExceptHandler) else [child])
    return names


def _is_main_guard(test: ast.expr) -> bool:
    """``__name__ == "__main__"`` (either way round)."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = {ast.dump(test.left), ast.dump(test.comparators[0])}
    return sides == {ast.dump(ast.Name("__name__", ast.Load())), ast.dump(ast.Constant("__main__"))}

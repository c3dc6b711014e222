"""What the ``ding`` command and the Python entry scripts share: their training flags and how they end.

A script (``dizoo/**/entry/*.py``, a config file's ``__main__`` block) ends as the ``ding`` command does: an error
the user can fix (:class:`~ding.config.ConfigError`, :class:`~ding.utils.dist.DistConfigError`, a missing file) is
one line on stderr and exit code 2, never a traceback::

    if __name__ == "__main__":
        from ding.entry import run_main, serial_pipeline

        run_main(serial_pipeline, (main_config, create_config), seed=0)

Counts on the command line are read as DI-engine users write them: ``--max-env-step 2e3`` (or DI-engine's
``--env-step``), ``--max-train-iter 1e6`` (or ``--train-iter``).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, Optional

EXIT_CONFIG_ERROR = 2  # bad config, launcher environment, checkpoint path or arguments: nothing trained or written
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT
EXIT_NONFINITE = 4  # training stopped at a NaN/inf loss or gradient (policy.learn.skip_nonfinite_step=False)


def count(text: str) -> int:
    """A count of steps or iterations: a whole number >= 0, also in DI-engine's float notation (``2e3``, ``1e6``)."""
    try:
        value = int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or number != int(number):
            raise argparse.ArgumentTypeError(f"expected a whole number such as 2000 or 2e3, got '{text}'") from None
        value = int(number)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a count >= 0, got '{text}'")
    return value


def seed_number(text: str) -> int:
    """A seed: an int >= 0 (as the Python entries take it, ding.entry.arguments.check_seed)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seed must be an int >= 0 such as 0 or 1, got '{text}'") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"seed must be an int >= 0, got '{text}'")
    if value >= 2**63:
        raise argparse.ArgumentTypeError(f"seed must be less than 2**63, got '{text}'")
    return value


class _OneSeed(argparse.Action):
    """``-s/--seed`` of a script that trains one seed: given twice is an error (argparse would keep the last)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        if getattr(namespace, self.dest) is not None:
            parser.error(
                f"{option_string} given twice: this script trains one seed (`ding -m serial -c <config> -s 0 -s 1` "
                f"trains several, one after the other)"
            )
        setattr(namespace, self.dest, values)


def add_training_arguments(parser: argparse.ArgumentParser, several_seeds: bool = False) -> argparse.ArgumentParser:
    """The seed and the budgets, with DI-engine's flag names as aliases. ``several_seeds`` (the ``ding`` command):
    ``-s`` may be repeated, as DI-engine's, and ``seed`` is the list given (None: none given); otherwise a second
    ``-s`` is an error and ``seed`` is None when none is given (:func:`parse_training_args` makes it 0)."""
    if several_seeds:
        parser.add_argument(
            "-s",
            "--seed",
            type=seed_number,
            action="append",
            default=None,
            help="seed (default 0); repeat it to train several seeds one after the other, each in "
            "<config name>_result/seed<N>/ (DI-engine's layout; with --exp-name NAME: NAME/seed<N>/NAME/)",
        )
    else:
        parser.add_argument(
            "-s", "--seed", type=seed_number, action=_OneSeed, default=None, help="base seed (default 0)"
        )
    parser.add_argument(
        "--max-env-step",
        "--env-step",
        dest="max_env_step",
        type=count,
        default=None,
        metavar="N",
        help="stop training after N collected env steps (all ranks together); 2e3 and 1e6 work",
    )
    parser.add_argument(
        "--max-train-iter",
        "--train-iter",
        dest="max_train_iter",
        type=count,
        default=None,
        metavar="N",
        help="stop training after N train iterations; 2e3 and 1e6 work",
    )
    # python -m torch.distributed.launch passes --local-rank=N (older torch: --local_rank=N) to the script; it sets
    # LOCAL_RANK too, which DistContext reads: accepted and ignored, not shown, not in the namespace
    parser.add_argument(
        "--local-rank", "--local_rank", type=int, action=_Ignored, default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    return parser


class _Ignored(argparse.Action):
    """An option accepted and dropped (``--local-rank``): its value never reaches the namespace."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        pass


def parse_training_args(description: Optional[str] = None, argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """An entry script's command line: ``-s/--seed``, ``--max-env-step/--env-step``, ``--max-train-iter/--train-iter``
    (as the ``ding`` command). A wrong flag or value exits with code 2 and a usage line."""
    parser = argparse.ArgumentParser(
        prog=os.path.basename(sys.argv[0]) or None,
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    args = add_training_arguments(parser).parse_args(argv)
    if args.seed is None:
        args.seed = 0
    return args


_OURS = tuple(
    os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), package, "")
    for package in ("ding", "dizoo")
)


def _one_line_warnings(show: Callable[..., None]) -> Callable[..., None]:
    """``warnings.showwarning`` that prints a UserWarning raised in ding's or dizoo's code (a config value with no
    effect, a rounded count) as one line ``ding: warning: <message>``, on rank 0 only (every rank compiles the same
    config and would say the same), and passes any other warning to ``show``."""

    def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
        if category is UserWarning and os.path.abspath(filename).startswith(_OURS):
            from ding.utils.dist import get_rank  # 0 without a process group

            if get_rank() == 0:
                print(f"ding: warning: {message}", file=sys.stderr if file is None else file, flush=True)
        else:
            show(message, category, filename, lineno, file, line)

    return show_warning


def _binding_problem(fn: Callable[..., Any], args: tuple, kwargs: dict) -> Optional[str]:
    """Why ``fn(*args, **kwargs)`` cannot be called (an argument it does not take, one missing), with the arguments
    it takes, or None. Checked before the call, so that only such a binding error is one line; a TypeError raised
    inside ``fn`` (a bug) keeps its traceback."""
    import inspect

    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin without a signature: the call itself will say
        return None
    try:
        signature.bind(*args, **kwargs)
    except TypeError as err:
        name = getattr(fn, "__name__", repr(fn))
        plain = signature.replace(
            parameters=[p.replace(annotation=inspect.Parameter.empty) for p in signature.parameters.values()],
            return_annotation=inspect.Signature.empty,
        )
        return f"{name}(): {err}; it takes {name}{plain}"
    return None


def call_reporting_errors(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
    """Call ``fn(*args, **kwargs)`` and return the exit code: 0; :data:`EXIT_CONFIG_ERROR` after an error the user
    can fix, reported as one ``ding: error: ...`` line on stderr (an env that returned what ding refuses, an env
    worker that failed for good included: :class:`EnvValueError`, :class:`EnvWorkerError`); :data:`EXIT_NONFINITE`
    after a NaN/inf training step that stopped the run (one line too); :data:`EXIT_INTERRUPTED` on Ctrl-C; 1 after
    an exception raised in an env's own code (its traceback, then one line naming the env and the phase, and what
    was kept). Other exceptions (bugs) propagate with their traceback; ``SystemExit`` (preemption:
    75, a stopped peer: 3) passes."""
    # imported here: `ding --help` and a script's argument errors do not pay for them
    from ding.config import ConfigError
    from ding.envs.env import EnvValueError
    from ding.envs.env_manager.worker_faults import EnvWorkerError
    from ding.policy.base_policy import NonFiniteError
    from ding.utils.dist import DistConfigError

    problem = _binding_problem(fn, args, kwargs)
    if problem is not None:  # a call that cannot start: the entry never ran
        print(f"ding: error: {problem}", file=sys.stderr, flush=True)
        return EXIT_CONFIG_ERROR
    try:
        with warnings.catch_warnings():  # ding's own warnings as one line each, as its errors
            warnings.showwarning = _one_line_warnings(warnings.showwarning)
            fn(*args, **kwargs)
    except (ConfigError, DistConfigError, FileNotFoundError, EnvValueError, EnvWorkerError) as err:
        # EnvValueError / EnvWorkerError: the user's env returned what ding refuses, or its worker failed for good
        # (the message holds the worker's traceback, if any: the env's own code)
        print(f"ding: error: {err}", file=sys.stderr, flush=True)
        return EXIT_CONFIG_ERROR
    except NonFiniteError as err:  # the step was not applied: the run's checkpoints hold no NaN/inf
        print(f"ding: error: {err}", file=sys.stderr, flush=True)
        return EXIT_NONFINITE
    except KeyboardInterrupt:
        print("ding: interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except Exception as err:
        if getattr(err, "env_phase", None) is None:
            raise
        # an exception of the user's env code (the in-process manager): its traceback, then what to do
        import traceback

        traceback.print_exc()
        print(
            f"ding: error: env {err.env_id} raised in its {err.env_phase}() (traceback above: a bug of the env's "
            f"code); checkpoints written so far are kept (ckpt/latest.pth.tar of the experiment folder: --resume "
            f"continues from it), or use env.manager.type='subprocess', which restarts an env that raises "
            f"(env.manager.max_retry)",
            file=sys.stderr,
            flush=True,
        )
        return 1  # as Python's own exit after a traceback
    return 0


def run_main(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> NoReturn:
    """A script's end: call ``fn(*args, **kwargs)`` and exit with :func:`call_reporting_errors`' code."""
    sys.exit(call_reporting_errors(fn, *args, **kwargs))


def ddp_script_call(main: Callable[[], Any], description: str) -> tuple:
    """What a DDP script's ``run_main(*ddp_script_call(main, description))`` calls, from its command line: ``main``
    as this process's rank (under torchrun, torch.distributed.launch, srun, mpirun, or alone), or with ``--spawn N``
    ``spawn(run_main, N, main)``, N ranks started here (torch.multiprocessing.spawn; a rank's one-line error and
    spawn's refusal exit 2)."""
    from ding.utils.dist import process_count, spawn

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--spawn",
        type=process_count,
        default=None,
        metavar="N",
        help="start N ranks on this host (torch.multiprocessing.spawn) instead of under a launcher",
    )
    # python -m torch.distributed.launch passes --local-rank=N (older torch: --local_rank=N); LOCAL_RANK holds it too
    parser.add_argument("--local-rank", "--local_rank", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    return (main,) if args.spawn is None else (spawn, run_main, args.spawn, main)

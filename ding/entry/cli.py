"""The `ding` command: `ding -m serial -c cfg.py -s 0` (off-policy), `ding -m serial_onpolicy -c cfg.py -s 0` (PPO),
`ding -m eval -c cfg.py -s 0 --load-path CKPT`,
`ding plot RUN_DIR... -o curve.png` (learning curves, see ding/entry/plot.py).

DI-engine's command line works as written: `-s` repeated trains the seeds one after the other, each in
`<the config file's name>_result/seed<N>/` (with `--exp-name NAME`: `NAME/seed<N>/NAME/`); `--exp-name` names
the experiment folder; `-e ENV -p POLICY` instead of `-c` takes the shipped config
`dizoo/**/<env>_<policy>_config.py` (`-e cartpole -p dqn`);
`--profile DIR` profiles the command with cProfile into DIR (DI-engine's three files). DI-engine's modes that ding has
not (its parallel/dist pipelines, the imitation and reward-model ones) are refused by name, with what to run instead;
the options only those modes read (``--platform``, ``--enable-total-log``, the hosts and ports, ...) are accepted and
ignored with a note, as DI-engine's serial modes ignore them.

Under a launcher that starts several processes (`torchrun --nproc_per_node=2 -m ding -m serial ...`, srun,
mpirun) the training modes run as the ranks of one DDP job (inside DistContext), never as independent runs; a config
without `policy.learn.multi_gpu=True` gets it turned on, with one warning line (ding.entry.run.match_world).
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
from collections.abc import Sequence
from typing import Optional

from ding.entry.script import EXIT_CONFIG_ERROR, add_training_arguments, call_reporting_errors

MODES = ("serial", "serial_onpolicy", "eval")
_OURS = "{ours}"  # filled in when the refusal is made (the registry's policy types): see _ding_modes
_SCALE = (
    "ding scales one learner over GPUs and nodes instead: set policy.learn.multi_gpu=True and start `ding -m serial` "
    "under torchrun, srun or mpirun (docs/multi_gpu.md)"
)
DINGINE_MODES = {  # DI-engine 0.5.3's -m choices that ding has not -> what they run, and what to do instead
    "parallel": f"its parallel pipeline (coordinator, collector and learner processes); {_SCALE}",
    "dist": f"its distributed pipeline (coordinator, collectors and learners as services); {_SCALE}",
    "serial_sqil": f"SQIL from an expert's demonstrations, a pipeline ding has not; {_OURS}",
    "serial_dqfd": f"DQfD from an expert's demonstrations, a pipeline ding has not; {_OURS}",
    "serial_gail": f"GAIL (a learned reward from an expert's data), a pipeline ding has not; {_OURS}",
    "serial_trex": f"T-REX (a reward learned from ranked demonstrations), a pipeline ding has not; {_OURS}",
    "serial_trex_onpolicy": f"T-REX with an on-policy agent, a pipeline ding has not; {_OURS}",
    "serial_reward_model": f"an agent on a learned reward model (RND, ICM, ...), a pipeline ding has not; {_OURS}",
    "serial_offline": f"offline RL from a saved dataset (CQL, BCQ, ...), a pipeline ding has not; {_OURS}",
    "serial_ngu": f"NGU (recurrent, with episodic novelty), a pipeline ding has not; {_OURS}",
}
# DI-engine 0.5.3's options that only its parallel/dist modes read (its serial modes ignore them): accepted and
# ignored with a note, so a DI-engine command line that trains serially runs here as written
DIST_ONLY_OPTIONS = (
    ("--enable-total-log",), ("--disable-flask-log",), ("-P", "--platform"), ("-M", "--module"), ("--module-name",),
    ("-cdh", "--coordinator-host"), ("-cdp", "--coordinator-port"), ("-lh", "--learner-host"),
    ("-lp", "--learner-port"), ("-clh", "--collector-host"), ("-clp", "--collector-port"),
    ("-agh", "--aggregator-host"), ("-agp", "--aggregator-port"), ("--add",), ("--delete",), ("--restart",),
    ("--kubeconfig",), ("-cdn", "--coordinator-name"), ("-ns", "--namespace"), ("-rs", "--replicas"),
    ("-rpn", "--restart-pod-name"), ("--cpus",), ("--gpus",), ("--memory",),
)  # fmt: skip
REGISTRIES = {  # DI-engine's -q names -> ding.utils.registry's
    "policy": "POLICY_REGISTRY",
    "model": "MODEL_REGISTRY",
    "env": "ENV_REGISTRY",
    "env_manager": "ENV_MANAGER_REGISTRY",
    "buffer": "BUFFER_REGISTRY",
}
_TRAINING = "-m serial and -m serial_onpolicy"
# flags a mode does not read -> why, and what to do instead: refused before anything runs (never silently ignored)
MODE_FLAGS = {
    "eval": {
        "max_env_step": f"--max-env-step is a training budget ({_TRAINING}); -m eval runs the config's "
        "env.n_evaluator_episode episodes",
        "max_train_iter": f"--max-train-iter is a training budget ({_TRAINING}); -m eval runs the config's "
        "env.n_evaluator_episode episodes",
        "resume": f"--resume continues a training run ({_TRAINING}); -m eval evaluates the checkpoint --load-path "
        "names",
    },
    "training": {
        "load_path": "--load-path is for -m eval; to start training from a checkpoint set "
        "policy.learn.learner.hook.load_ckpt_before_run",
        "replay_path": "--replay-path is for -m eval (videos of a checkpoint's episodes); to film the evaluations "
        "during training set env.replay_path in the config",
    },
    # -q lists a registry and runs nothing: a flag of a mode with it would be silently ignored
    "query": {
        "mode": "-m runs a mode; run `ding -q REGISTRY` and `ding -m MODE ...` as two commands",
        "config": "-c is a mode's config; -q lists a registry and reads no config",
        "env": "-e picks a mode's shipped config; -q lists a registry and reads no config",
        "policy": "-p picks a mode's shipped config; -q lists a registry and reads no config",
        "exp_name": "--exp-name names a training run's folder; -q lists a registry and trains nothing",
        "seed": "-s seeds a training or eval run; -q lists a registry and runs nothing",
        "max_env_step": f"--max-env-step is a training budget ({_TRAINING}); -q lists a registry and trains nothing",
        "max_train_iter": f"--max-train-iter is a training budget ({_TRAINING}); -q lists a registry and trains "
        "nothing",
        "load_path": "--load-path is for -m eval; -q lists a registry and evaluates nothing",
        "replay_path": "--replay-path is for -m eval; -q lists a registry and evaluates nothing",
        "resume": f"--resume continues a training run ({_TRAINING}); -q lists a registry and trains nothing",
        "profile": "--profile profiles a mode's run; -q lists a registry and runs nothing",
    },
}
__all__ = ["DINGINE_MODES", "EXIT_CONFIG_ERROR", "MODES", "MODE_FLAGS", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ding",
        description="ding: train and evaluate RL agents (DI-engine-compatible configs and command line).",
        epilog="ding plot RUN_DIR... -o curve.png: learning curves of runs (mean and band over seeds) as a PNG and "
        "a CSV; see ding plot --help. DI-engine's options of its parallel/dist modes (--platform, "
        "--enable-total-log, --disable-flask-log, the hosts and ports, ...) are accepted and ignored, with a note.",
    )
    parser.add_argument(
        "-m",
        "--mode",
        default=None,
        metavar="{" + ",".join(MODES) + "}",
        help="serial: train off-policy (DQN, SAC, ...); serial_onpolicy: train on-policy (PPO); eval: evaluate a ckpt",
    )
    parser.add_argument(
        "-q",
        "--query-registry",
        choices=sorted(REGISTRIES),
        default=None,
        metavar="REGISTRY",
        help=f"list the types registered in a registry ({', '.join(sorted(REGISTRIES))}), where each is defined",
    )
    parser.add_argument(
        "-c", "--config", default=None, help="config file defining main_config and create_config (or -e and -p)"
    )
    parser.add_argument("-e", "--env", default=None, help="with -p instead of -c: the shipped config of that env")
    parser.add_argument(
        "-p",
        "--policy",
        default=None,
        help="with -e: the shipped dizoo/**/<env>_<policy>_config.py (e.g. cartpole, dqn)",
    )
    parser.add_argument("--exp-name", default=None, help="the experiment folder, instead of the config's exp_name")
    add_training_arguments(parser, several_seeds=True)  # -s (repeatable), --max-env-step/--env-step, ...
    parser.add_argument("--load-path", default=None, help="checkpoint to evaluate (eval mode)")
    parser.add_argument("--replay-path", default=None, help="eval mode: write one MP4 per episode to this folder")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the experiment exp_name from its ckpt/latest.pth.tar (same as policy.learn.resume_training)",
    )
    parser.add_argument(
        "--profile",
        default=None,
        metavar="DIR",
        help="profile the command with cProfile; when it ends write profile_tottime.txt, profile_cumtime.txt and "
        "profile.prof (pstats, snakeviz) into DIR (DI-engine's --profile; under a launcher, rank 0's)",
    )
    parser.add_argument("-v", "--version", action="version", version=f"%(prog)s {_version()}")
    for flags in DIST_ONLY_OPTIONS:
        parser.add_argument(*flags, dest=_dist_dest(flags), default=None, help=argparse.SUPPRESS)
    return parser


def _dist_dest(flags: tuple[str, ...]) -> str:
    return "dist_only_" + flags[-1].lstrip("-").replace("-", "_")


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("ding")
    except Exception:
        return "(not installed)"


def main(argv: Optional[Sequence[str]] = None) -> int:
    # before the heavy imports: a SIGTERM/SIGUSR1 during start-up is kept and answered with a checkpoint
    from ding.utils.preemption import PreemptionHandler

    with PreemptionHandler():
        return _main(argv)


def _main(argv: Optional[Sequence[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "plot":
        from ding.entry.plot import main as plot_main

        return plot_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.query_registry is not None:
        for dest, why in MODE_FLAGS["query"].items():
            if getattr(args, dest) is not None and getattr(args, dest) is not False:
                parser.error(f"-q {args.query_registry}: {why}")
        try:
            print(query_registry(args.query_registry), flush=True)
        except BrokenPipeError:  # `ding -q env | head`: the reader left; no traceback
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    if args.mode is None:
        parser.error("the following arguments are required: -m/--mode (or -q REGISTRY to list a registry)")
    if args.mode not in MODES:
        if args.mode in DINGINE_MODES:
            what = DINGINE_MODES[args.mode].replace(_OURS, _ding_modes())
            parser.error(f"-m {args.mode}: DI-engine's mode runs {what}")
        parser.error(f"argument -m/--mode: invalid choice: {args.mode!r} (choose from {', '.join(MODES)})")
    for dest, why in MODE_FLAGS["eval" if args.mode == "eval" else "training"].items():
        if getattr(args, dest) is not None and getattr(args, dest) is not False:  # --max-env-step 0 is given
            parser.error(f"-m {args.mode}: {why}")
    if args.mode == "eval" and args.exp_name is not None and len(args.seed or [0]) == 1:
        parser.error(
            "-m eval: --exp-name names the folder a training run writes, and -m eval writes none; with several "
            "seeds (-s 0 -s 1) it names the folder whose seed<N>/ holds each seed's run"
        )
    for flags in DIST_ONLY_OPTIONS:
        value = getattr(args, _dist_dest(flags))
        if value is not None:
            print(
                f"[ding] note: {flags[-1]} {value} ignored: DI-engine reads it in its parallel/dist modes only "
                f"(its -m {args.mode} ignores it too)",
                file=sys.stderr,
                flush=True,
            )
    if args.profile is None:
        return call_reporting_errors(_run, args)
    return _profiled(args)


def _ding_modes() -> str:
    """ding's modes, each with the registered policy types it trains."""
    from ding.utils.registry import POLICY_REGISTRY

    kinds: dict[bool, list[str]] = {False: [], True: []}
    for name in POLICY_REGISTRY.names():
        kinds[bool(POLICY_REGISTRY.get(name).default_config().get("on_policy"))].append(name)
    return (
        f"ding's modes: serial (off-policy: {', '.join(kinds[False])}), serial_onpolicy ({', '.join(kinds[True])}), "
        f"eval"
    )


def _profiled(args: argparse.Namespace) -> int:
    """DI-engine's ``--profile DIR``: the command under cProfile; its statistics written into DIR when it ends (also
    after an error or a preemption) as profile_tottime.txt and profile_cumtime.txt (pstats listings sorted by
    own and cumulative time) and profile.prof (the raw statistics). Under a launcher only rank 0 profiles."""
    import cProfile
    import pstats

    from ding.utils.dist import detect_launcher

    folder = os.path.abspath(args.profile)
    if os.path.exists(folder) and not os.path.isdir(folder):
        print(f"ding: error: --profile {args.profile}: exists and is not a folder", file=sys.stderr, flush=True)
        return EXIT_CONFIG_ERROR
    try:
        rank = detect_launcher().rank
    except Exception:  # a half-set launcher environment: _run reports it
        rank = 0
    if rank != 0:
        return call_reporting_errors(_run, args)
    os.makedirs(folder, exist_ok=True)
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        return call_reporting_errors(_run, args)
    finally:
        profiler.disable()
        for key, name in (("tottime", "profile_tottime.txt"), ("cumtime", "profile_cumtime.txt")):
            with open(os.path.join(folder, name), "w") as stream:
                pstats.Stats(profiler, stream=stream).sort_stats(key).print_stats()
        profiler.dump_stats(os.path.join(folder, "profile.prof"))
        print(f"[ding] profile written to {folder}", file=sys.stderr, flush=True)


def query_registry(kind: str) -> str:
    """DI-engine's ``ding -q <registry>``: the registered names, each with the file and line that defines it (the
    env types of every dizoo env module, imported for the listing)."""
    import importlib
    import inspect

    import dizoo
    from ding.utils import registry as registries

    if kind == "env":  # dizoo's env types register when their module is imported (create_config's import_names)
        root = os.path.dirname(os.path.abspath(dizoo.__file__))
        for path in sorted(glob.glob(os.path.join(root, "**", "envs", "*_env.py"), recursive=True)):
            module = "dizoo." + os.path.relpath(path, root)[: -len(".py")].replace(os.sep, ".")
            try:
                importlib.import_module(module)
            except ImportError:  # an optional extra (Box2D, MuJoCo) not installed: its types are not listed
                continue
    registry = getattr(registries, REGISTRIES[kind])
    lines = [f"Available {kind}: [{'|'.join(registry.names())}]"]
    for name in registry.names():
        obj = registry.get(name)
        try:  # the file relative to the folder its top-level package is in (ding/..., dizoo/...)
            package = importlib.import_module(obj.__module__.split(".")[0])
            top = os.path.dirname(os.path.dirname(os.path.abspath(package.__file__)))
            where = f"{os.path.relpath(inspect.getsourcefile(obj), top)}#{inspect.getsourcelines(obj)[1]}"
        except (TypeError, OSError, AttributeError):
            where = getattr(obj, "__module__", "?")
        lines.append(f"\t{name}: registered at {where}")
    return "\n".join(lines)


def shipped_config(env: str, policy: str) -> str:
    """The path of the shipped config ``dizoo/**/<env>_<policy>_config.py`` (DI-engine's ``-e ENV -p POLICY``).

    :raises ConfigError: none, or several, with the policies that env has."""
    import dizoo
    from ding.config import ConfigError

    root = os.path.dirname(os.path.abspath(dizoo.__file__))
    found = sorted(glob.glob(os.path.join(root, "**", f"{env}_{policy}_config.py"), recursive=True))
    if len(found) == 1:
        return found[0]
    if found:
        names = ", ".join(os.path.relpath(f, root) for f in found)
        raise ConfigError(f"-e {env} -p {policy}: several shipped configs match ({names}); give one with -c")
    policies = sorted(
        {
            os.path.basename(f)[len(env) + 1 : -len("_config.py")]
            for f in glob.glob(os.path.join(root, "**", f"{env}_*_config.py"), recursive=True)
        }
    )
    hint = f"shipped for '{env}': {', '.join(policies)}" if policies else f"no shipped config is for env '{env}'"
    raise ConfigError(f"-e {env} -p {policy}: no shipped config {env}_{policy}_config.py ({hint}); or give one with -c")


def _config_path(args: argparse.Namespace) -> str:
    from ding.config import ConfigError

    if args.config is not None:
        if args.env is not None or args.policy is not None:
            raise ConfigError("give a config file with -c, or a shipped config with -e ENV -p POLICY, not both")
        return args.config
    if args.env is None or args.policy is None:
        raise ConfigError(
            "no config: give a config file with -c (ding -m serial -c cfg.py -s 0), or a shipped one with "
            "-e ENV -p POLICY (ding -m serial -e cartpole -p dqn -s 0)"
        )
    return shipped_config(args.env, args.policy)


def _run(args: argparse.Namespace) -> None:
    from ding.config import ConfigError
    from ding.utils.dist import detect_launcher

    launch = detect_launcher()  # a half-set launcher environment is an error here, before anything starts
    config = _config_path(args)
    if args.replay_path is not None:
        from ding.entry.arguments import check_output_folder

        check_output_folder(args.replay_path, "--replay-path")
    seeds = args.seed or [0]
    if len(seeds) == 1:
        _run_seed(args, config, seeds[0], launch)
        return
    # several seeds run in folders of their own: the user's paths are read from the folder the command was run in
    config = os.path.abspath(config)
    for dest in ("load_path", "replay_path"):
        if getattr(args, dest) is not None:
            setattr(args, dest, os.path.abspath(getattr(args, dest)))
    repeated = sorted({seed for seed in seeds if seeds.count(seed) > 1})
    if repeated:
        raise ConfigError(f"-s {repeated[0]} given twice: give each seed once")
    if launch.world_size > 1:
        raise ConfigError(
            f"several seeds ({', '.join(map(str, seeds))}) under {launch.label}: the processes of a launch are the "
            f"ranks of one run; launch one seed per job"
        )
    # DI-engine's layout for several seeds: each runs in <root>/seed<N>/, one after the other
    from ding.utils import summary

    root = os.path.abspath(args.exp_name or os.path.splitext(os.path.basename(config))[0] + "_result")
    start = os.getcwd()
    for seed in seeds:
        folder = os.path.join(root, f"seed{seed}")
        position = f"seed {seed} ({seeds.index(seed) + 1} of {len(seeds)})"
        replay_path = None if args.replay_path is None else os.path.join(args.replay_path, f"seed{seed}")
        if args.mode == "eval":  # writes no folder; the config's relative policy.load_path is read in the seed's
            # folder when there is one (where training ran that seed), else in the folder the command was run in
            where = folder if os.path.isdir(folder) else start
            print(f"[ding] {position} in {where}", flush=True)
            os.chdir(where)
            try:
                _run_seed(args, config, seed, launch, replay_path)
            finally:
                os.chdir(start)
            continue
        created = [path for path in (root, folder) if not os.path.isdir(path)]
        os.makedirs(folder, exist_ok=True)
        print(f"[ding] {position} in {folder}", flush=True)
        os.chdir(folder)
        summary.SHOWN_FROM = start  # the summary's paths as seen from where the command was run
        try:  # --exp-name NAME: NAME/seed<N>/NAME/, also for an absolute NAME (the seed's folder is inside it)
            _run_seed(args, config, seed, launch, exp_name=os.path.basename(root) if args.exp_name else None)
        finally:
            summary.SHOWN_FROM = None
            os.chdir(start)
            for path in reversed(created):  # a seed that stopped before writing leaves no empty folder
                if os.path.isdir(path) and not os.listdir(path):
                    os.rmdir(path)


def _run_seed(
    args: argparse.Namespace,
    config: str,
    seed: int,
    launch,
    replay_path: Optional[str] = None,
    exp_name: Optional[str] = None,
) -> None:
    from ding.config import ConfigError
    from ding.utils.dist import DistContext

    exp_name = exp_name or args.exp_name
    if exp_name is not None:  # DI-engine's --exp-name: the experiment folder, whatever the file says
        from ding.config.config import read_config

        main_config, create_config = read_config(config)
        main_config.exp_name = exp_name
        config = (main_config, create_config)
    if args.mode == "eval":
        if launch.world_size > 1:
            raise ConfigError(
                f"ding -m eval evaluates in one process, but {launch.label} started {launch.world_size}: "
                f"run it without the launcher"
            )
        from ding.entry import eval as eval_entry

        eval_entry(config, seed=seed, load_path=args.load_path, replay_path=replay_path or args.replay_path)
        return
    from ding.entry import serial_pipeline, serial_pipeline_onpolicy

    pipeline = serial_pipeline if args.mode == "serial" else serial_pipeline_onpolicy
    with DistContext():  # several processes: the ranks of one job; one process: nothing to start
        pipeline(
            config,
            seed=seed,
            max_env_step=args.max_env_step,
            max_train_iter=args.max_train_iter,
            resume=args.resume,
        )


if __name__ == "__main__":
    sys.exit(main())

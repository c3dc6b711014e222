"""Run an unchanged entry script as ``__main__`` (as a launcher runs it) and save, per rank, what the multi-process
tests compare: ``rank<R>.pt`` in the working directory with the learner's model weights, its train iteration, the
collector's env step and the last evaluation result, as tests/dingine_ddp_loop.py saves them from its own loop.

DI-engine's scripts write nothing per rank, so the components they build are recorded as they are made.

    torchrun --nproc_per_node=2 tests/record_ranks.py SCRIPT

The script is the last argument; the launcher's own (``--local-rank=N`` of ``torch.distributed.launch``) are passed
on to it, as the launcher would pass them.
"""

import runpy
import sys

import torch

from ding.utils import get_rank
from ding.worker import BaseLearner, InteractionSerialEvaluator, SampleSerialCollector

made: dict = {}


def record(cls: type, name: str) -> None:
    """Keep the last ``cls`` instance made under ``name``, and the rank of the process group it was made in."""
    init = cls.__init__

    def __init__(self, *args, **kwargs):
        init(self, *args, **kwargs)
        made[name] = self
        made["rank"] = get_rank()  # read now: the script's DistContext closes the group before it returns

    cls.__init__ = __init__


def main(script: str, launcher_args: list[str]) -> None:
    record(BaseLearner, "learner")
    record(SampleSerialCollector, "collector")
    record(InteractionSerialEvaluator, "evaluator")
    results = []
    evaluate = InteractionSerialEvaluator.eval

    def eval_(self, *args, **kwargs):
        stop, result = evaluate(self, *args, **kwargs)
        results.append(result)
        return stop, result

    InteractionSerialEvaluator.eval = eval_
    sys.argv = [script, *launcher_args]
    runpy.run_path(script, run_name="__main__")
    learner, collector = made["learner"], made["collector"]
    model = learner.policy.get_attribute("model")
    result = dict(train_iter=learner.train_iter, envstep=collector.envstep, eval=results[-1], model=model.state_dict())
    torch.save(result, f"rank{made['rank']}.pt")


if __name__ == "__main__":
    main(sys.argv[-1], sys.argv[1:-1])

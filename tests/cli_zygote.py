"""A process that has imported a2c-cli, torch and the rest once, and forks a child per
console-script run the tests ask for (:func:`tests.conftest.run_cli`).

Why: a short training run through ``a2c-train`` spends most of its CPU importing torch,
gymnasium, Hydra and TensorBoard, and the suite runs it about a hundred times. A fork of a
process that has imported them, and done nothing else, starts the same entry point in a
fresh process with the test's argv, environment, working directory and output files, so
exit codes, signals, stdout/stderr, run directories and locks are those of a real process.

What a fork cannot give, the caller runs as a real subprocess instead (conftest decides):
an environment that changes what the interpreter or a library reads at start-up
(``PYTHONPATH``, thread-count variables ...). The zygote must hold one thread when it forks
(it checks, and quits rather than fork a threaded process).

Protocol, one JSON object per line: request ``{"script", "args", "env", "cwd", "stdout",
"stderr"}``; replies ``{"pid": N}`` at once, then ``{"returncode": N}`` when the child ends
(negative: killed by that signal, as :mod:`subprocess` reports it).
"""

from __future__ import annotations

import json
import os
import sys
from importlib.metadata import entry_points
from pathlib import Path


def preload() -> None:
    """Import what every console-script run imports (nothing is run or initialised)."""
    import gymnasium  # noqa: F401
    import matplotlib.backends.backend_agg  # noqa: F401 (the learning-curve plot)
    import matplotlib.figure  # noqa: F401
    import numpy  # noqa: F401
    import PIL.Image  # noqa: F401
    import rich.logging  # noqa: F401
    import torch  # noqa: F401
    from hydra.core.plugins import Plugins
    from tensorboard.backend.event_processing import event_accumulator  # noqa: F401
    from torch.utils.tensorboard import SummaryWriter  # noqa: F401

    Plugins.instance()  # Hydra's scan of its plugin packages (imports, no state of a run)

    import a2c_cli.cli.evaluate  # noqa: F401
    import a2c_cli.cli.report  # noqa: F401
    import a2c_cli.cli.task  # noqa: F401
    import a2c_cli.cli.train  # noqa: F401
    import a2c_cli.training.build  # noqa: F401


def threads() -> int:
    return len(os.listdir("/proc/self/task")) if Path("/proc/self/task").is_dir() else 1


def run_child(request: dict, set_on_import: dict) -> None:
    """In the forked child: become the console script the request names. Never returns.
    ``set_on_import``: variables that importing a2c-cli set where they were unset (as
    ``os.environ.setdefault`` at import time does in a fresh process too)."""
    fd_in = os.open(os.devnull, os.O_RDONLY)
    fd_out = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    fd_err = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    for fd, target in ((fd_in, 0), (fd_out, 1), (fd_err, 2)):
        os.dup2(fd, target)
        os.close(fd)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 (the process's own stdin)
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    for key, value in set_on_import.items():
        os.environ.setdefault(key, value)
    script = request["script"]
    sys.argv = [script, *request["args"]]
    sys.path[0] = str(Path(script).parent)  # what a console script's interpreter has
    (entry,) = entry_points(group="console_scripts", name=Path(script).name)
    sys.exit(entry.load()())  # the interpreter exits as the console script would


def main() -> None:
    before = dict(os.environ)
    preload()
    set_on_import = {k: v for k, v in os.environ.items() if k not in before}
    replies = sys.stdout
    for line in sys.stdin:
        request = json.loads(line)
        if threads() != 1:
            sys.exit(f"cli_zygote: {threads()} threads, refusing to fork")
        pid = os.fork()
        if pid == 0:
            run_child(request, set_on_import)
        replies.write(json.dumps({"pid": pid}) + "\n")
        replies.flush()
        _, status = os.waitpid(pid, 0)
        replies.write(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}) + "\n")
        replies.flush()


if __name__ == "__main__":
    main()

"""Benchmark: how long the `notifier` command takes to start, next to `python -c pass`.

    python -m bench.cli [--runs 15]

In a temporary folder, `notifier init` and `notifier cases import --sample` make a store. Then,
round by round (so the machine's load falls on every command alike), each of these runs once
as a new process, timed from start to exit:

- `python -c pass`: the interpreter alone, the floor;
- `notifier --help`;
- `notifier cases list`, against that store.

`notifier` is the console script beside this Python (`python -m notifier` if there is none),
with no NOTIFIER_* variables; the settings file is the one init wrote. One untimed round goes
first. The medians, the best runs, each command's median over `python -c pass`'s, and the
median CPU time (user + system: on a busy machine, close to what the wall time would be on an
idle one) are printed. Progress goes to stderr; the last line on stdout is one JSON object."""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: The goals of issue 10, on the reference machine (for reading: nothing here gates on time).
GOALS = {"help_s": 0.3, "cases_list_s": 1.0}


def notifier_command() -> list[str]:
    script = Path(sys.executable).with_name("notifier")
    return [str(script)] if script.exists() else [sys.executable, "-m", "notifier"]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("NOTIFIER_")}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], *, cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of `command`, start to exit."""
    cpu = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    return elapsed, _children_cpu() - cpu


def summary(wall: list[float], cpu: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(wall), 4),
        "best": round(min(wall), 4),
        "cpu_median": round(statistics.median(cpu), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="timed rounds (default 15)")
    args = parser.parse_args()
    notifier = notifier_command()
    env = clean_env()
    commands = {
        "python_pass_s": [sys.executable, "-c", "pass"],
        "help_s": [*notifier, "--help"],
        "cases_list_s": [*notifier, "cases", "list"],
    }
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as folder:
        cwd = Path(folder)
        for setup in (["init"], ["cases", "import", "--sample"]):
            timed([*notifier, *setup], cwd=cwd, env=env)
        wall: dict[str, list[float]] = {name: [] for name in commands}
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        for round_ in range(args.runs + 1):
            for name, command in commands.items():
                elapsed, used = timed(command, cwd=cwd, env=env)
                if round_:  # the first round warms the file cache
                    wall[name].append(elapsed)
                    cpu[name].append(used)
            print(f"round {round_}/{args.runs}", file=sys.stderr)
    medians = {name: statistics.median(t) for name, t in wall.items()}
    floor = medians["python_pass_s"]
    result = {
        "runs": args.runs,
        "command": " ".join(notifier),
        **{name: summary(wall[name], cpu[name]) for name in commands},
        "help_ratio": round(medians["help_s"] / floor, 2),
        "cases_list_ratio": round(medians["cases_list_s"] / floor, 2),
        "goals": GOALS,
        "goal_met": all(medians[name] < limit for name, limit in GOALS.items()),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Mutation testing of the money paths on a seeded sample, within a time budget.

    python -m bench.mutants --seed 1 --per-module 300 --budget-minutes 60

mutmut (configured in ``pyproject.toml``: the modules, and the points tests as the runner)
writes every mutant of those modules into ``mutants/``; this command samples ``--per-module``
of each module's mutants with ``--seed``, runs them with mutmut against ONE embedded Postgres
and Redis started here (every mutant's test run is a fork that would otherwise start its own),
stops at the budget, and prints the score per module: killed / (checked - equivalent). The
mutants judged equivalent are listed, with the reason, in ``docs/mutation-testing.md``
(lines ``- `mutant_name`: reason`` under "## Equivalent mutants"). Not run in CI: too slow.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from cli.stack import REPO_ROOT, StackEnvironment, resolve_environment
from db.crypto import generate_key
from subgraphs.kit.settings import Settings

MUTANTS = REPO_ROOT / "mutants"
DOC = REPO_ROOT / "docs" / "mutation-testing.md"
TEST_DATABASE = "loyalnest_test"  # the name tests/conftest.py uses

# mutmut's exit codes per mutant (mutmut.stats.status_by_exit_code), by what they mean here.
KILLED = {1: "killed", 3: "killed", 36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout"}
SURVIVED = {0: "survived", 33: "no tests", 5: "no tests"}

# Functions of the money-path modules that move no points (expiry reminders: notifications
# through Klaviyo / Postscript): not sampled.
NOT_MONEY = {
    "subgraphs.points.expiry.service": (
        "reminder_setup",
        "due_reminders",
        "queue_reminders",
        "abandoned_reminders",
        "recipients",
        "notification_client",
        "deliver",
        "record_delivery",
    ),
}

# Writes mutants/ without running anything (mutmut has no command for only that).
_GENERATE = """
from mutmut.__main__ import copy_also_copy_files, copy_src_dir, create_mutants, setup_source_paths
from mutmut.mutation.trampoline import set_mutant_under_test
set_mutant_under_test("mutant_generation")
copy_src_dir()
copy_also_copy_files()
setup_source_paths()
create_mutants(1)
"""


@dataclass
class ModuleScore:
    module: str
    sampled: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    survivors: list[str] = field(default_factory=list)
    equivalent: list[str] = field(default_factory=list)

    @property
    def checked(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != "not checked")

    @property
    def killed(self) -> int:
        return self.statuses["killed"] + self.statuses["timeout"]

    @property
    def score(self) -> float | None:
        judged = self.checked - len(self.equivalent)
        return None if judged <= 0 else self.killed / judged


# An equivalent mutant is named in the doc with what it does to the code ("writes `...`", or
# "deletes `...`" for a mutant that only removes), so that a judgement cannot silently pass to
# another mutant: mutmut numbers a function's mutants in order, and any edit of that function
# renumbers them.
_EQUIVALENT_ENTRY = re.compile(
    r"^- `([\w.]+__mutmut_\d+)` (writes|deletes)\s+`(.+?)`:", flags=re.MULTILINE
)


@dataclass(frozen=True)
class Judgement:
    verb: str  # "writes" or "deletes"
    code: str


@dataclass(frozen=True)
class Equivalents:
    confirmed: set[str]
    # Named in the doc, but the mutant of that name no longer does what the doc says it does.
    stale: dict[str, Judgement]


def judged_equivalent(doc: Path = DOC) -> dict[str, Judgement]:
    """The doc's equivalent mutants (its "## Equivalent mutants" section), each with what the
    judgement was about."""
    if not doc.exists():
        return {}
    section = doc.read_text().split("## Equivalent mutants", 1)
    if len(section) < 2:
        return {}
    body = section[1].split("\n## ", 1)[0]
    return {name: Judgement(verb, code) for name, verb, code in _EQUIVALENT_ENTRY.findall(body)}


def _folded(code: str) -> str:
    return " ".join(code.split())


def changed_code(diff: str) -> tuple[str, str]:
    """What a mutant's diff removes and what it writes, each with white space folded."""
    lines = [line for line in diff.splitlines() if not line.startswith(("+++", "---"))]
    removed = " ".join(line[1:] for line in lines if line.startswith("-"))
    added = " ".join(line[1:] for line in lines if line.startswith("+"))
    return _folded(removed), _folded(added)


def still_holds(judgement: Judgement, diff: str) -> bool:
    removed, added = changed_code(diff)
    code = _folded(judgement.code)
    if judgement.verb == "writes":
        return bool(code) and code in added
    # Deleting: the mutant's lines are the original ones without that code.
    return bool(code) and code in removed and _folded(removed.replace(code, " ")) == added


def mutant_diff(name: str) -> str:
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    module, _, _ = name.rpartition(".")
    path = Path(*module.split(".")).with_suffix(".py")
    with contextlib.chdir(REPO_ROOT):
        return get_diff_for_mutant(name, path=path)


def equivalent_mutants(doc: Path = DOC) -> Equivalents:
    """The doc's judgements that still hold: the mutant of that name does what the doc says."""
    confirmed: set[str] = set()
    stale: dict[str, Judgement] = {}
    for name, judgement in judged_equivalent(doc).items():
        try:
            holds = still_holds(judgement, mutant_diff(name))
        except (FileNotFoundError, KeyError, ValueError):  # no such mutant any more
            holds = False
        if holds:
            confirmed.add(name)
        else:
            stale[name] = judgement
    return Equivalents(confirmed, stale)


def generate() -> None:
    subprocess.run([sys.executable, "-c", _GENERATE], cwd=REPO_ROOT, check=True)


def mutants_by_module() -> dict[str, list[str]]:
    """Every generated mutant name, by module (``subgraphs.points.orders.reversal``)."""
    found: dict[str, list[str]] = {}
    for meta in sorted(MUTANTS.rglob("*.py.meta")):
        module = ".".join(meta.relative_to(MUTANTS).with_suffix("").with_suffix("").parts)
        names = json.loads(meta.read_text())["exit_code_by_key"]
        skipped = tuple(f"{module}.x_{function}__mutmut_" for function in NOT_MONEY.get(module, ()))
        found[module] = sorted(name for name in names if not name.startswith(skipped))
    return found


def exit_codes() -> dict[str, int | None]:
    codes: dict[str, int | None] = {}
    for meta in MUTANTS.rglob("*.py.meta"):
        codes.update(json.loads(meta.read_text())["exit_code_by_key"])
    return codes


def sample(by_module: dict[str, list[str]], per_module: int, seed: int) -> dict[str, list[str]]:
    """``per_module`` mutants of each module, the same ones for the same seed and code."""
    chosen: dict[str, list[str]] = {}
    for module, names in by_module.items():
        rng = random.Random(f"{seed}:{module}")
        chosen[module] = sorted(rng.sample(names, min(per_module, len(names))))
    return chosen


def test_environment(data_dir: Path) -> tuple[dict[str, str], StackEnvironment]:
    """One embedded Postgres and Redis for every mutant's run (tests/conftest.py uses servers
    it finds in DATABASE_URL / REDIS_URL instead of starting its own)."""
    stack = resolve_environment(Settings(LOYALNEST_DATA_DIR=data_dir), database=TEST_DATABASE)
    env = {
        **os.environ,
        **stack.env,
        "LOYALNEST_ENCRYPTION_KEYS": f"mutants:{generate_key()}",
        "LOYALNEST_BLIND_INDEX_KEY": generate_key(),
    }
    return env, stack


def run_mutmut(names: list[str], env: dict[str, str], *, budget: float, children: int) -> bool:
    """Run the named mutants; interrupted (as Ctrl-C would) at the budget. True if finished."""
    command = ["nice", "-n", "19", sys.executable, "-m", "mutmut", "run"]
    command += ["--max-children", str(children), *names]
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, start_new_session=True)
    try:
        process.wait(timeout=budget)
        return True
    except subprocess.TimeoutExpired:
        print(f"\nbudget of {budget / 60:.0f} min spent: stopping mutmut", flush=True)
        # mutmut keeps forking mutants after a Ctrl-C: then a TERM, then a KILL, for the group.
        for stop in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(process.pid, stop)
                process.wait(timeout=10)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        # Mutants forked before the stop, still running without their parent.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        return False


def scores(chosen: dict[str, list[str]], equivalent: Equivalents) -> list[ModuleScore]:
    codes = exit_codes()
    result = []
    for module, names in chosen.items():
        score = ModuleScore(module, sampled=len(names))
        for name in names:
            code = codes.get(name)
            status = (
                KILLED.get(code, SURVIVED.get(code, "not checked"))
                if code is not None
                else ("not checked")
            )
            score.statuses[status] += 1
            if status in {"survived", "no tests"}:
                (score.equivalent if name in equivalent.confirmed else score.survivors).append(name)
        result.append(score)
    return result


def report(results: list[ModuleScore], *, seed: int, per_module: int) -> str:
    lines = [
        f"seed {seed}, up to {per_module} mutants per module",
        f"{'module':45} {'sampled':>7} {'checked':>7} {'killed':>6} {'equiv':>5} {'score':>6}",
    ]
    for s in results:
        shown = "-" if s.score is None else f"{s.score:.0%}"
        lines.append(
            f"{s.module:45} {s.sampled:7} {s.checked:7} {s.killed:6} {len(s.equivalent):5}"
            f" {shown:>6}"
        )
    for s in results:
        if s.survivors:
            lines.append(f"\nsurvivors in {s.module} (`mutmut show NAME` for the diff):")
            lines += [f"  {name}" for name in s.survivors]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--per-module", type=int, default=300)
    parser.add_argument("--budget-minutes", type=float, default=60)
    parser.add_argument("--max-children", type=int, default=1, help="mutants run at once")
    parser.add_argument(
        "--module", action="append", default=[], help="only modules whose name contains this"
    )
    parser.add_argument("--report-only", action="store_true", help="score the last run")
    parser.add_argument(
        "--split", action="store_true", help="one mutmut run per module, equal budget shares"
    )
    parser.add_argument(
        "--resume", action="store_true", help="run only the sampled mutants not checked yet"
    )
    parser.add_argument(
        "--not-killed",
        action="store_true",
        help="run only the sampled mutants the last run did not kill (after adding tests)",
    )
    args = parser.parse_args(argv)

    generate()
    by_module = mutants_by_module()
    if args.module:
        by_module = {
            module: names
            for module, names in by_module.items()
            if any(part in module for part in args.module)
        }
    chosen = sample(by_module, args.per_module, args.seed)
    names = [name for module_names in chosen.values() for name in module_names]
    if args.not_killed or args.resume:
        codes = exit_codes()
        names = [
            name
            for name in names
            if (codes.get(name) is None if args.resume else codes.get(name) not in KILLED)
        ]
    print(f"{len(names)} mutants to run in {len(chosen)} modules (seed {args.seed})", flush=True)
    if not args.report_only and names:
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="loyalnest-mutants-") as data_dir:
            env, stack = test_environment(Path(data_dir))
            try:
                if args.split:
                    # Module by module, each with an equal share of what is left of the budget,
                    # so a slow module (one every test reaches) cannot starve the others; each
                    # share pays mutmut's clean run of the tests again.
                    todo = [[n for n in chosen[m] if n in set(names)] for m in chosen]
                    todo = [module_names for module_names in todo if module_names]
                else:
                    todo = [names]
                deadline = started + args.budget_minutes * 60
                for left, module_names in zip(range(len(todo), 0, -1), todo, strict=True):
                    share = (deadline - time.monotonic()) / left
                    if share <= 0:
                        break
                    run_mutmut(module_names, env, budget=share, children=args.max_children)
            finally:
                stack.stop()
        print(f"ran {time.monotonic() - started:.0f} s", flush=True)
    equivalent = equivalent_mutants()
    print(report(scores(chosen, equivalent), seed=args.seed, per_module=args.per_module))
    if equivalent.stale:
        print("\njudged equivalent in the doc, but the mutant of that name now writes other code")
        print("(the function changed; judge it again, and name what it writes or deletes):")
        for name, judgement in sorted(equivalent.stale.items()):
            print(f"  {name} {judgement.verb} `{judgement.code}`")
    return 0


if __name__ == "__main__":
    sys.exit(main())

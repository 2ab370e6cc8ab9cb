"""The worker registers every job a domain declares, with the schedule declared beside it,
and nothing is listed by hand: a new ``jobs.py`` is picked up as it is."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from subgraphs.kit.jobs import JobSpec
from subgraphs.kit.settings import Settings
from worker import settings as worker_module
from worker.settings import SHARED_SLOTS, discover_jobs, worker_settings
from worker.webhooks.batches import LANES, MAX_BATCH
from worker.webhooks.jobs import process_webhook_delivery

WORKER_ENV = Settings(REDIS_URL="redis://127.0.0.1:1/0", DATABASE_URL="postgresql://x/y")


def test_every_job_of_the_program_is_registered_with_its_schedule() -> None:
    config = worker_settings(WORKER_ENV)
    functions = {function.name: function for function in config["functions"]}
    crons = {cron_job.name: cron_job for cron_job in config["cron_jobs"]}

    # The jobs of the points program, the admin module and the webhook inbox, found in their
    # own domains' jobs modules.
    assert {
        "process_webhook_delivery",
        "sweep_webhook_inbox",
        "forget_old_receipts_job",
        "maintain_log_partitions_job",
        "expire_points",
        "queue_expiry_reminders",
        "resolve_stale_redemptions_job",
        "recalculate_tiers_job",
        "reconcile_orders_job",
    } <= set(functions)
    # A delivery job is cancelled at the configured timeout and keeps no result, so the
    # sweeper can enqueue its id again.
    delivery = functions["process_webhook_delivery"]
    assert delivery.timeout_s == WORKER_ENV.webhook_job_timeout_seconds
    assert delivery.keep_result_s == 0
    assert "cron:process_webhook_delivery" not in crons
    # Schedules come from the declarations, settings included.
    assert crons["cron:expire_points"].minute == {7}
    assert crons["cron:expire_points"].timeout_s == 3600
    assert crons["cron:maintain_log_partitions_job"].run_at_startup is True
    sweep = crons["cron:sweep_webhook_inbox"]
    every = WORKER_ENV.inbox_sweep_every_seconds
    assert sweep.second == set(range(0, 60, every))
    assert sweep.run_at_startup is True


@pytest.fixture
def extra_domain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """A package with a domain folder and its jobs module, as a new domain would add."""
    package = tmp_path / "newdomains"
    (package / "loyalty_games").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "loyalty_games" / "__init__.py").write_text("")
    (package / "loyalty_games" / "jobs.py").write_text(
        textwrap.dedent(
            """
            from subgraphs.kit.jobs import Cron, job

            @job(timeout=120, cron=Cron(hour=frozenset({2}), minute=frozenset({5})))
            async def close_leaderboard_cycle(ctx):
                return 0

            @job()
            async def award_streak(ctx, customer_id):
                return customer_id

            async def not_a_job(ctx):
                return None
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import newdomains  # type: ignore[import-not-found]

    monkeypatch.setattr(worker_module, "JOB_PACKAGES", (*worker_module.JOB_PACKAGES, newdomains))
    yield newdomains
    for name in [name for name in sys.modules if name.startswith("newdomains")]:
        del sys.modules[name]


def test_a_new_domains_jobs_are_found_without_editing_the_worker(
    extra_domain: ModuleType,
) -> None:
    config = worker_settings(WORKER_ENV)
    functions = {function.name: function for function in config["functions"]}
    crons = {cron_job.name: cron_job for cron_job in config["cron_jobs"]}

    assert functions["close_leaderboard_cycle"].timeout_s == 120
    assert "award_streak" in functions
    assert "not_a_job" not in functions
    assert crons["cron:close_leaderboard_cycle"].hour == {2}
    assert crons["cron:close_leaderboard_cycle"].minute == {5}
    assert "cron:award_streak" not in crons


def test_two_jobs_with_one_name_are_refused(extra_domain: ModuleType, tmp_path: Path) -> None:
    # arq names a job by its function: a second one would silently replace the first.
    (tmp_path / "newdomains" / "loyalty_games" / "more").mkdir()
    (tmp_path / "newdomains" / "loyalty_games" / "more" / "__init__.py").write_text("")
    (tmp_path / "newdomains" / "loyalty_games" / "more" / "jobs.py").write_text(
        "from subgraphs.kit.jobs import job\n\n@job()\nasync def award_streak(ctx):\n    pass\n"
    )

    with pytest.raises(RuntimeError, match="award_streak"):
        discover_jobs()


async def test_webhook_deliveries_fill_their_batches_and_other_jobs_share_ten_slots() -> None:
    """arq takes up to LANES x MAX_BATCH jobs at once so that a merchant's deliveries fill
    their batches; every other job (which holds a connection, or calls a provider, while it
    runs) still runs at most SHARED_SLOTS at once."""
    config = worker_settings(WORKER_ENV)
    assert config["max_jobs"] == LANES * MAX_BATCH
    functions = {function.name: function for function in config["functions"]}
    assert functions["process_webhook_delivery"].coroutine is process_webhook_delivery

    running = peak = 0

    async def probe(ctx: dict[str, object]) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1

    for shares_slots, expected in ((True, SHARED_SLOTS), (False, 3 * SHARED_SLOTS)):
        running = peak = 0
        registered = worker_module._registered(
            JobSpec(probe, shares_slots=shares_slots), asyncio.Semaphore(SHARED_SLOTS)
        )
        await asyncio.gather(*(registered({}) for _ in range(3 * SHARED_SLOTS)))
        assert peak == expected

"""Churn, per merchant, from its own history: a logistic regression (scikit-learn) on each
customer's order history as of a cutoff 90 days ago, labelled by whether they ordered in
the 90 days since; its AUC measured on a holdout quarter; then every customer scored as of
now — the probability they order nothing in the next 90 days — and given a lifecycle stage.

Below a minimum history (customers, and of each outcome) there is no model: the merchant is
told why instead of shown a guess.

Features (as of the cutoff): days since the last order, orders, spend, days since the first
order, the mean days between orders (the shop's median for one-order customers), and how
overdue the customer is (days since the last order / their usual gap) — logged, then scaled.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from statistics import median
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ChurnModel, ChurnModelStatus, LifecycleStage
from subgraphs.analytics.churn.repository import ChurnRepository, CustomerHistory, CustomerVerdict

HORIZON = timedelta(days=90)
MIN_CUSTOMERS = 200
MIN_EACH_OUTCOME = 20
HOLDOUT_SHARE = 0.25
# A score from which a customer counts as churned; without a model, a customer this long
# without an order does.
CHURNED_FROM = Decimal("0.7")
CHURNED_AFTER_DAYS = 180.0
DEFAULT_GAP_DAYS = 30.0
FEATURES = ("recency", "orders", "spent", "tenure", "mean_gap", "overdue")
SCORE_PLACES = Decimal("0.001")


@dataclass(frozen=True, slots=True)
class TrainingResult:
    model: ChurnModel
    scored: int
    changed: int


def _features(histories: Sequence[CustomerHistory], usual_gap: float) -> np.ndarray[Any, Any]:
    rows = []
    for history in histories:
        gap = history.mean_gap_days if history.mean_gap_days is not None else usual_gap
        rows.append(
            [
                math.log1p(max(history.recency_days, 0.0)),
                math.log1p(history.orders),
                math.log1p(max(float(history.spent), 0.0)),
                math.log1p(max(history.tenure_days, 0.0)),
                math.log1p(max(gap, 0.0)),
                math.log1p(max(history.recency_days, 0.0) / max(gap, 1.0)),
            ]
        )
    return np.array(rows, dtype=float).reshape(len(rows), len(FEATURES))


def _usual_gap(histories: Sequence[CustomerHistory]) -> float:
    gaps = [h.mean_gap_days for h in histories if h.mean_gap_days is not None]
    return median(gaps) if gaps else DEFAULT_GAP_DAYS


def _insufficient(
    histories: Sequence[CustomerHistory], churned: int, cutoff: datetime
) -> str | None:
    stayed = len(histories) - churned
    if len(histories) < MIN_CUSTOMERS:
        return (
            f"needs at least {MIN_CUSTOMERS} customers with an order before "
            f"{cutoff.date().isoformat()} (90 days ago); the shop has {len(histories)}"
        )
    if min(churned, stayed) < MIN_EACH_OUTCOME:
        return (
            f"needs at least {MIN_EACH_OUTCOME} customers who came back and {MIN_EACH_OUTCOME} "
            f"who did not in the 90 days after {cutoff.date().isoformat()}; the shop has "
            f"{stayed} and {churned}"
        )
    return None


def _fit(
    histories: Sequence[CustomerHistory], labels: np.ndarray[Any, Any], usual_gap: float
) -> tuple[dict[str, Any], float]:
    """The fitted parameters, and the AUC on the holdout the fit never saw."""
    features = _features(histories, usual_gap)
    train_x, test_x, train_y, test_y = train_test_split(
        features, labels, test_size=HOLDOUT_SHARE, stratify=labels, random_state=0
    )
    scaler = StandardScaler().fit(train_x)
    regression = LogisticRegression(max_iter=1000).fit(scaler.transform(train_x), train_y)
    auc = float(roc_auc_score(test_y, regression.predict_proba(scaler.transform(test_x))[:, 1]))
    parameters = {
        "features": list(FEATURES),
        "mean": [float(v) for v in scaler.mean_],
        "scale": [float(v) for v in scaler.scale_],
        "coefficients": [float(v) for v in regression.coef_[0]],
        "intercept": float(regression.intercept_[0]),
        "usual_gap_days": usual_gap,
    }
    return parameters, auc


def churn_probabilities(
    parameters: dict[str, Any], histories: Sequence[CustomerHistory]
) -> list[Decimal]:
    """What the stored model says of each history: P(no order in the horizon)."""
    features = _features(histories, float(parameters["usual_gap_days"]))
    scaled = (features - np.array(parameters["mean"])) / np.array(parameters["scale"])
    logits = scaled @ np.array(parameters["coefficients"]) + float(parameters["intercept"])
    return [Decimal(str(1.0 / (1.0 + math.exp(-logit)))).quantize(SCORE_PLACES) for logit in logits]


def lifecycle_stage(history: CustomerHistory, score: Decimal | None) -> LifecycleStage:
    """Churned first (the stage that asks for action), then VIP, repeat, one-time."""
    gone = score >= CHURNED_FROM if score is not None else history.recency_days > CHURNED_AFTER_DAYS
    if gone:
        return LifecycleStage.CHURNED
    if history.vip:
        return LifecycleStage.VIP
    return LifecycleStage.REPEAT_BUYER if history.orders > 1 else LifecycleStage.ONE_TIME_BUYER


async def train(
    session: AsyncSession, merchant_id: str, *, now: datetime, keep: bool = True
) -> ChurnModel:
    """Train the merchant's model on its history up to 90 days ago, and keep it (or why
    there is none); with ``keep`` false, only say what it would be."""
    repository = ChurnRepository(session, merchant_id)
    cutoff = now - HORIZON
    histories = await repository.histories(cutoff, now)
    labels = np.array([0 if h.ordered_after else 1 for h in histories], dtype=int)
    churned = int(labels.sum())
    values: dict[str, Any] = {
        "trained_at": now,
        "cutoff_at": cutoff,
        "horizon_days": HORIZON.days,
        "sample_size": len(histories),
        "churned": churned,
    }
    reason = _insufficient(histories, churned, cutoff)
    if reason is not None:
        values |= {
            "status": ChurnModelStatus.INSUFFICIENT_HISTORY.value,
            "reason": reason,
            "auc": None,
            "parameters": None,
        }
    else:
        parameters, auc = _fit(histories, labels, _usual_gap(histories))
        values |= {
            "status": ChurnModelStatus.READY.value,
            "reason": None,
            "auc": Decimal(str(auc)).quantize(Decimal("0.0001")),
            "parameters": parameters,
        }
    if not keep:
        return ChurnModel(merchant_id=merchant_id, **values)
    return await repository.save(values)


async def score(
    session: AsyncSession, merchant_id: str, model: ChurnModel | None, *, now: datetime
) -> tuple[int, int]:
    """Every customer's churn score (with a ready model) and lifecycle stage as of ``now``:
    (customers with orders scored, rows changed)."""
    repository = ChurnRepository(session, merchant_id)
    histories = await repository.histories(now, now)
    ready = model is not None and model.status == ChurnModelStatus.READY.value
    scores: list[Decimal | None] = (
        list(churn_probabilities(model.parameters or {}, histories))
        if ready and model is not None and histories
        else [None] * len(histories)
    )
    verdicts = [
        CustomerVerdict(history.customer_id, value, lifecycle_stage(history, value).value)
        for history, value in zip(histories, scores, strict=True)
    ]
    return len(verdicts), await repository.write_verdicts(verdicts)


async def train_and_score(
    session: AsyncSession, merchant_id: str, *, now: datetime, dry_run: bool = False
) -> TrainingResult:
    """Train, keep and score with the model; a dry run trains only, keeping and scoring
    nothing (to see the AUC a retraining would give)."""
    model = await train(session, merchant_id, now=now, keep=not dry_run)
    if dry_run:
        return TrainingResult(model, 0, 0)
    scored, changed = await score(session, merchant_id, model, now=now)
    return TrainingResult(model, scored, changed)


async def churn_model(session: AsyncSession, merchant_id: str) -> ChurnModel | None:
    return await ChurnRepository(session, merchant_id).current()


async def churn_of_customers(
    session: AsyncSession, merchant_id: str, customer_ids: Sequence[str]
) -> dict[str, tuple[Decimal | None, str | None]]:
    return await ChurnRepository(session, merchant_id).scores_of(customer_ids)

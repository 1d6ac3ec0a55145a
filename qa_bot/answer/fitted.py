"""Fitted models stored as data: `qa_bot/models/<name>.json`, keyed by input name.

Each file is written by the calibration script that fits it, says where and when it was fitted,
and is read here once. A weight for an input the file does not name is 0.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

MODELS = Path(__file__).resolve().parents[1] / "models"


@dataclass(frozen=True)
class Regression:
    """A logistic regression: a bias and a weight for each named input."""

    bias: float
    weights: Mapping[str, float]
    fitted: str  # by what, on what data, when

    def probability(self, inputs: Mapping[str, float]) -> float:
        return logistic(
            self.bias + sum(self.weights.get(name, 0.0) * value for name, value in inputs.items())
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "fitted": self.fitted,
            "bias": self.bias,
            "weights": dict(sorted(self.weights.items())),
        }


@cache
def regression(name: str) -> Regression:
    data = json.loads((MODELS / f"{name}.json").read_text(encoding="utf-8"))
    return Regression(
        bias=float(data["bias"]),
        fitted=str(data["fitted"]),
        weights={str(k): float(v) for k, v in data["weights"].items()},
    )


def write_regression(name: str, model: Regression) -> Path:
    """Write a fitted model where `regression` reads it (the calibration scripts' one writer)."""
    path = MODELS / f"{name}.json"
    path.write_text(
        json.dumps(model.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return path


def logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))

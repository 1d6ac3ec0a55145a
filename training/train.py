"""Fine-tune the reader on the CPU with a fixed seed, checkpointing so that a run can resume."""

from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .examples import Pair
from .model import MAX_QUESTION_TOKENS, MAX_TOKENS, Reader


@dataclass(frozen=True)
class TrainingSettings:
    seed: int = 13
    steps: int = 2400  # 77k pairs at 32: about 50 minutes on this machine's 2 cores
    batch: int = 32
    learning_rate: float = 5e-5
    head_learning_rate: float = 3e-4
    warmup_steps: int = 200
    weight_decay: float = 0.01
    span_weight: float = 0.5
    held_out: int = 2000  # pairs, by question, never trained on
    checkpoint_every: int = 200


def held_out(pair: Pair, share: float) -> bool:
    digest = hashlib.sha256(pair.question.encode("utf-8")).digest()
    return digest[0] / 256 < share


def split(pairs: list[Pair], settings: TrainingSettings) -> tuple[list[Pair], list[Pair]]:
    """(train, held out), the held-out pairs chosen by question so none is half-seen."""
    share = settings.held_out / len(pairs)
    test = [p for p in pairs if held_out(p, share)]
    train = [p for p in pairs if not held_out(p, share)]
    rng = random.Random(settings.seed)
    rng.shuffle(train)
    return train[: settings.steps * settings.batch], test


def encode(tokenizer, pairs: list[Pair]) -> dict[str, torch.Tensor]:  # type: ignore[no-untyped-def]
    """Tokenised pairs with the span's first and last piece (0, 0 when there is none)."""
    questions = [cut_question(tokenizer, p.question) for p in pairs]
    batch = tokenizer(
        questions,
        [p.sentence for p in pairs],
        truncation="only_second",
        max_length=MAX_TOKENS,
        padding=True,
        return_offsets_mapping=True,
        return_tensors="pt",
    )
    starts, ends = [], []
    for row, pair in enumerate(pairs):
        first = last = 0
        if pair.span:
            kinds = batch.sequence_ids(row)
            for piece, (kind, (a, b)) in enumerate(
                zip(kinds, batch["offset_mapping"][row].tolist())
            ):
                if kind != 1 or b <= a:
                    continue
                if first == 0 and b > pair.span[0]:
                    first = piece
                if a < pair.span[1]:
                    last = piece
            if last < first:
                first = last = 0
        starts.append(first)
        ends.append(last)
    batch.pop("offset_mapping")
    batch["start"] = torch.tensor(starts)
    batch["end"] = torch.tensor(ends)
    batch["label"] = torch.tensor([float(p.answers) for p in pairs])
    return dict(batch)


def cut_question(tokenizer, question: str) -> str:  # type: ignore[no-untyped-def]
    """The question up to its MAX_QUESTION_TOKENS-th word piece (as qa_bot.answer.reader)."""
    offsets = tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)[
        "offset_mapping"
    ]
    return (
        question
        if len(offsets) <= MAX_QUESTION_TOKENS
        else question[: offsets[MAX_QUESTION_TOKENS - 1][1]]
    )


def batches(pairs: list[Pair], size: int, seed: int) -> list[list[Pair]]:
    """Batches of pairs of similar length (little padding), in a shuffled order."""
    rng = random.Random(seed)
    chunk = size * 50
    out = []
    for i in range(0, len(pairs), chunk):
        part = sorted(pairs[i : i + chunk], key=lambda p: len(p.question) + len(p.sentence))
        out.extend(part[j : j + size] for j in range(0, len(part), size))
    rng.shuffle(out)
    return out


def loss_of(model: Reader, batch: dict[str, torch.Tensor], span_weight: float) -> torch.Tensor:
    answers, start, end = model(
        batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]
    )
    loss = nn.functional.binary_cross_entropy_with_logits(answers, batch["label"])
    spanned = batch["start"] > 0
    if spanned.any():
        loss = loss + span_weight * 0.5 * (
            nn.functional.cross_entropy(start[spanned], batch["start"][spanned])
            + nn.functional.cross_entropy(end[spanned], batch["end"][spanned])
        )
    return loss


def train(
    model: Reader,
    tokenizer,
    pairs: list[Pair],
    settings: TrainingSettings,  # type: ignore[no-untyped-def]
    work: Path,
    log,
) -> dict[str, object]:
    """Train to `settings.steps`, resuming from `work/checkpoint.pt` when it is there."""
    torch.manual_seed(settings.seed)
    heads = [p for n, p in model.named_parameters() if not n.startswith("encoder.")]
    body = [p for n, p in model.named_parameters() if n.startswith("encoder.")]
    optimizer = torch.optim.AdamW(
        [
            {"params": body, "lr": settings.learning_rate},
            {"params": heads, "lr": settings.head_learning_rate},
        ],
        weight_decay=settings.weight_decay,
    )

    def schedule(step: int) -> float:
        if step < settings.warmup_steps:
            return (step + 1) / settings.warmup_steps
        return max(0.0, (settings.steps - step) / (settings.steps - settings.warmup_steps))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    order = batches(pairs, settings.batch, settings.seed)
    step, seconds = 0, 0.0
    checkpoint = work / "checkpoint.pt"
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, seconds = state["step"], state["seconds"]
        log(f"resumed at step {step} ({seconds / 60:.1f} min trained)")
    model.train()
    began, running = time.perf_counter() - seconds, []
    while step < min(settings.steps, len(order)):
        loss = loss_of(model, encode(tokenizer, order[step]), settings.span_weight)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        running.append(loss.item())
        step += 1
        if step % 50 == 0:
            log(
                f"step {step}/{settings.steps} loss {np.mean(running[-50:]):.4f} "
                f"{(time.perf_counter() - began) / 60:.1f} min"
            )
        if step % settings.checkpoint_every == 0 or step == settings.steps:
            seconds = time.perf_counter() - began
            torch.save(
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "step": step,
                    "seconds": seconds,
                },
                checkpoint.with_suffix(".tmp"),
            )
            checkpoint.with_suffix(".tmp").replace(checkpoint)
    model.eval()
    return {
        "steps": step,
        "minutes": round((time.perf_counter() - began) / 60, 1),
        "settings": asdict(settings),
    }


@torch.no_grad()
def held_out_figures(model: Reader, tokenizer, pairs: list[Pair]) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """AUC of the answer logit and the share of spans found exactly, on held-out pairs."""
    model.eval()
    scores, labels, exact, spanned = [], [], 0, 0
    for i in range(0, len(pairs), 64):
        chunk = pairs[i : i + 64]
        batch = encode(tokenizer, chunk)
        answers, start, end = model(
            batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]
        )
        scores += answers.tolist()
        labels += batch["label"].tolist()
        has = batch["start"] > 0
        spanned += int(has.sum())
        exact += int(
            ((start.argmax(-1) == batch["start"]) & (end.argmax(-1) == batch["end"]) & has).sum()
        )
    return {
        "pairs": len(pairs),
        "auc": round(auc(scores, labels), 4),
        "span_exact": round(exact / max(spanned, 1), 4),
    }


def auc(scores: list[float], labels: list[float]) -> float:
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    positives = np.array(labels) > 0.5
    n_pos, n_neg = positives.sum(), (~positives).sum()
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

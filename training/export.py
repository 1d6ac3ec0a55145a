"""Export the trained reader to ONNX, quantize it, and write the shipped model folder.

The folder (qa_bot/models/reader/) holds `reader-int8.onnx`, the tokenizer (`tokenizer.json`,
truncation and padding off: qa_bot.answer.reader sets its own), `reader.json` (what the serving code
needs to read it the way it was trained) and `MODEL_CARD.md`. Quantization is onnxruntime's
dynamic int8 with per-channel weights, the feed-forward MatMuls left fp32, as the index encoder
(qa_bot/encoder/onnx_export.py): int8 there cost the encoder answers.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import torch

from qa_bot.encoder.onnx_export import FEED_FORWARD, OPSET

from .model import MAX_QUESTION_TOKENS, MAX_TOKENS, Reader

ONNX_FILE = "reader-int8.onnx"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUTS = ("answers", "start", "end")


def export_reader(
    model: Reader,
    tokenizer,
    base: str,
    work: Path,
    out: Path,  # type: ignore[no-untyped-def]
    log,
) -> None:
    model.eval()
    staging = Path(tempfile.mkdtemp(dir=work, prefix="export-"))
    staging.chmod(0o755)
    fp32 = staging / "reader-fp32.onnx"
    sample = tokenizer(
        ["who leads the troops?", "how many?"],
        ["General Kim leads them.", "About 1,500 soldiers arrived in October."],
        padding=True,
        return_tensors="pt",
    )
    axes = {name: {0: "batch", 1: "sequence"} for name in (*INPUTS, "start", "end")}
    axes["answers"] = {0: "batch"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            tuple(sample[name] for name in INPUTS),
            str(fp32),
            input_names=list(INPUTS),
            output_names=list(OUTPUTS),
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(fp32), load_external_data=False).graph
    keep_fp32 = [
        n.name for n in graph.node if n.op_type == "MatMul" and FEED_FORWARD.search(n.name)
    ]
    quantize_dynamic(
        fp32,
        staging / ONNX_FILE,
        per_channel=True,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=keep_fp32,
    )
    shutil.copy(fp32, work / "reader-fp32.onnx")  # kept beside the checkpoint, for comparison
    fp32.unlink()
    tokenizer_json = json.loads((Path(base) / "tokenizer.json").read_text(encoding="utf-8"))
    tokenizer_json["truncation"] = None
    tokenizer_json["padding"] = None
    (staging / "tokenizer.json").write_text(
        json.dumps(tokenizer_json, ensure_ascii=False), encoding="utf-8"
    )
    digest = hashlib.sha256((staging / ONNX_FILE).read_bytes()).hexdigest()
    record = {
        "onnx": ONNX_FILE,
        "sha256": digest,
        "max_tokens": MAX_TOKENS,
        "max_question_tokens": MAX_QUESTION_TOKENS,
        "inputs": list(INPUTS),
        "outputs": list(OUTPUTS),
        "exported": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (staging / "reader.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    run = json.loads((work / "run.json").read_text(encoding="utf-8"))
    (staging / "MODEL_CARD.md").write_text(model_card(run, record), encoding="utf-8")
    if out.exists():
        for name in ("calibration.json",):  # written by calibration/fit_reader.py: kept
            if (out / name).exists():
                shutil.copy(out / name, staging / name)
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(out)
    size = (out / ONNX_FILE).stat().st_size / 1e6
    log(f"wrote {out} ({ONNX_FILE}: {size:.1f} MB)")


SETS = {
    "squadshifts": "SQuADShifts (Miller, Krauth, Recht and Schmidt, ICML 2020): new Wikipedia, "
    "Reddit and Amazon review paragraphs; CC BY 4.0",
    "squad1-cs224n": "SQuAD v1.1 training set (Rajpurkar et al., 2016), the 5% slice of the "
    "CS224n 2017 preprocessing; CC BY-SA 4.0",
    "squad1-du2017": "SQuAD v1.1 training-set sentence/question pairs of Du, Shao and Cardie "
    "(2017); CC BY-SA 4.0",
    "selqa": "SelQA answer sentence selection (Jurczyk, Zhai and Choi, 2016), dev and test; "
    "Apache-2.0",
    "tweetqa": "TweetQA (Xiong et al., ACL 2019), training set; CC BY-SA 4.0",
    "boolq": "BoolQ (Clark et al., NAACL 2019), dev set; CC BY-SA 3.0",
}


def model_card(run: dict, record: dict) -> str:
    counts = run["counts"]
    by_set: dict[str, int] = {}
    for origin, n in counts.items():
        name = origin.split(":")[0]
        name = "squadshifts" if name.startswith("squadshifts") else name
        by_set[name] = by_set.get(name, 0) + n
    settings = run["settings"]
    rows = "\n".join(f"| `{origin}` | {n:,} |" for origin, n in counts.items())
    cited = "\n".join(
        f"- **{name}** ({by_set.get(name, 0):,} pairs): {text}" for name, text in SETS.items()
    )
    return f"""# qa_bot reader

A cross-encoder that reads a reader's question against one sentence of an article and gives
the probability that the sentence answers it, and where in the sentence the short answer is.
Fine-tuned on this project's CPU from all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0),
with a logit head on [CLS] and the mean of the last layer, and a start/end head per word piece.
Exported to ONNX and quantized to int8 (per-channel weights; feed-forward layers float):
`{record["onnx"]}` (sha256 `{record["sha256"][:16]}…`). It generates no text.

**Licence: CC BY-SA 4.0**, as the data it was trained on requires, with each set attributed:

{cited}

No research-only set (WikiQA, TrecQA, RealTimeQA, MultiRC, RTE, SubjQA) and no SQuAD 2.0
development-set article was used. Every negative pair was made by `training/examples.py` from
the sets above: the other sentence of the answer's paragraph sharing most words with the
question, another sentence of the same paragraph or article at random, and the answer's own
sentence with a short answer cut out.

## Training

`python -m training` (reads `../shared/data/train`; about an hour on two CPU cores):
{settings["steps"]:,} steps of {settings["batch"]} pairs, AdamW, learning rate
{settings["learning_rate"]} for the encoder and {settings["head_learning_rate"]} for the heads,
{settings["warmup_steps"]} warm-up steps then linear decay, weight decay
{settings["weight_decay"]}, span loss weight {settings["span_weight"]}, seed {settings["seed"]},
all layers trained, at most {record["max_tokens"]} word pieces per pair
({record["max_question_tokens"]} of question). Time: {run["minutes"]} minutes.

| pairs trained on, by how they were made | count |
|---|---|
{rows}

## Held out

{run["held_out"]["pairs"]:,} pairs of the same sets, chosen by question and never trained on:
AUC {run["held_out"]["auc"]} for "this sentence answers", exact span
{run["held_out"]["span_exact"]:.1%} (float model). The figures that matter are those of
`python -m qa_bot eval` on reader-written questions (BENCHMARKS.md, C3).

## What it can and cannot do

It reads one sentence at a time: an answer that needs the sentence before ("he said") is
read without it. It learned from encyclopaedia, forum, review and tweet questions, not from
readers of news, and from negatives made by rule: on-topic questions that no sentence answers
are still its weakest case. Its span is a guess at the answer's words, always inside the
quoted sentence.
"""

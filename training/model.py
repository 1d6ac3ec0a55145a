"""The reader: all-MiniLM-L6-v2 reading "[CLS] question [SEP] sentence [SEP]", with two heads.

- `answers`: one logit, that the sentence answers the question, from the [CLS] state and the
  mean of all states (the encoder was trained mean-pooled, so the mean carries meaning from
  the first step; [CLS] learns the pair);
- `span`: a start and an end logit per word piece, for the short answer.
"""

from __future__ import annotations

import torch
from torch import nn

MAX_TOKENS = 128  # question and sentence together; a longer sentence is cut
MAX_QUESTION_TOKENS = 48


class Reader(nn.Module):
    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.answers = nn.Linear(2 * hidden, 1)
        self.span = nn.Linear(hidden, 2)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        states = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(states.dtype)
        mean = (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        answers = self.answers(torch.cat([states[:, 0], mean], dim=-1)).squeeze(-1)
        start, end = self.span(states).unbind(-1)
        # Only the sentence's pieces can start or end the answer.
        outside = (token_type_ids == 0) | (attention_mask == 0)
        start = start.masked_fill(outside, -1e4)
        end = end.masked_fill(outside, -1e4)
        return answers, start, end


def load_reader(model_path: str) -> Reader:
    from transformers import AutoModel

    return Reader(AutoModel.from_pretrained(model_path))

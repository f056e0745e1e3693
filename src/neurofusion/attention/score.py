"""What every attribution method explains: the log-odds of the positive (last) class.

    score = logit[C-1] - logsumexp(logit[0..C-2])  = log p(pos) / (1 - p(pos))

For two classes this is logit[1] - logit[0], the binary classifier's logit; it is
invariant to a shift of all logits, unlike one raw logit of a softmax head.
"""

from __future__ import annotations

import torch


def positive_log_odds(logits: torch.Tensor) -> torch.Tensor:
    """logits (B, C) -> score (B,)."""
    logits = logits.float()
    return logits[:, -1] - torch.logsumexp(logits[:, :-1], dim=-1)

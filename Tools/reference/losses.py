"""Losses and metrics of docs/SPEC.md §6 (stablemax cross-entropy, BCE with
logits, the ACT loss head), in float64.

Ignored labels: in this project a label equal to PAD (0) is ignored. The reference
code rewrites those labels to -100 (IGNORE_LABEL_ID) when it loads a batch and then
ignores -100; the two are the same thing since PAD is never a valid target.
"""

from __future__ import annotations

from typing import Dict

import torch

IGNORE_LABEL = 0  # PAD


def stablemax_s(x: torch.Tensor) -> torch.Tensor:
    """s(x) = x + 1 for x >= 0, 1 / (1 - x) for x < 0."""
    return torch.where(x < 0, 1.0 / (1.0 - x), x + 1.0)


def log_stablemax(logits: torch.Tensor) -> torch.Tensor:
    s = stablemax_s(logits.to(torch.float64))
    return torch.log(s / s.sum(dim=-1, keepdim=True))


def stablemax_cross_entropy(logits: torch.Tensor, labels: torch.Tensor,
                            ignore_label: int = IGNORE_LABEL) -> torch.Tensor:
    """Per-token -log p(label) [B, L]; 0 at ignored tokens."""
    logp = log_stablemax(logits)
    valid = labels != ignore_label
    safe = torch.where(valid, labels, torch.zeros_like(labels)).long()
    picked = torch.gather(logp, -1, safe.unsqueeze(-1)).squeeze(-1)
    return torch.where(valid, -picked, torch.zeros_like(picked))


def lm_loss(logits: torch.Tensor, labels: torch.Tensor,
            ignore_label: int = IGNORE_LABEL) -> torch.Tensor:
    """sum over slots of (sum of per-token loss / max(1, count of non-ignored tokens))."""
    per_token = stablemax_cross_entropy(logits, labels, ignore_label)
    counts = (labels != ignore_label).sum(-1).clamp_min(1).to(torch.float64)
    return (per_token / counts.unsqueeze(-1)).sum()


def bce_with_logits_sum(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """sum of max(x,0) - x*y + log(1 + exp(-|x|)); d/dx = sigmoid(x) - y everywhere.
    torch's fused BCE-with-logits is used because autograd through the written-out formula takes a
    subgradient at x == 0 exactly (the kinks of max and |x|), giving -y instead of 0.5 - y."""
    x = logits.to(torch.float64)
    y = targets.to(torch.float64)
    return torch.nn.functional.binary_cross_entropy_with_logits(x, y, reduction="sum")


def sequence_correctness(logits: torch.Tensor, labels: torch.Tensor,
                         ignore_label: int = IGNORE_LABEL):
    """(is_correct [B, L] bool, seq_is_correct [B] bool, counts [B]).
    A slot with no non-ignored token counts as exactly correct (as in the reference)."""
    mask = labels != ignore_label
    counts = mask.sum(-1)
    is_correct = mask & (torch.argmax(logits, dim=-1) == labels)
    seq_is_correct = is_correct.sum(-1) == counts
    return is_correct, seq_is_correct, counts


def act_loss(outputs: Dict[str, torch.Tensor], labels: torch.Tensor,
             halted: torch.Tensor, steps: torch.Tensor,
             ignore_label: int = IGNORE_LABEL):
    """The reference ACT loss head. Returns (total loss, parts dict, metrics dict).
    total = lm_loss + 0.5 * (q_halt_loss + q_continue_loss); q_continue_loss is 0
    when the outputs carry no target (evaluation, or halt_max_steps == 1)."""
    with torch.no_grad():
        is_correct, seq_is_correct, counts = sequence_correctness(outputs["logits"], labels, ignore_label)
        divisor = counts.clamp_min(1).to(torch.float64)
        valid = halted & (counts > 0)
        metrics = {
            "count": valid.sum().to(torch.float64),
            "accuracy": torch.where(valid, is_correct.to(torch.float64).sum(-1) / divisor,
                                    torch.zeros_like(divisor)).sum(),
            "exact_accuracy": (valid & seq_is_correct).sum().to(torch.float64),
            "q_halt_accuracy": (valid & ((outputs["q_halt_logits"] >= 0) == seq_is_correct)).sum().to(torch.float64),
            "steps": torch.where(valid, steps, torch.zeros_like(steps)).sum().to(torch.float64),
        }
    lm = lm_loss(outputs["logits"], labels, ignore_label)
    q_halt = bce_with_logits_sum(outputs["q_halt_logits"], seq_is_correct.to(torch.float64))
    if "target_q_continue" in outputs:
        q_cont = bce_with_logits_sum(outputs["q_continue_logits"], outputs["target_q_continue"])
    else:
        q_cont = torch.zeros((), dtype=torch.float64)
    total = lm + 0.5 * (q_halt + q_cont)
    parts = {"lm_loss": lm, "q_halt_loss": q_halt, "q_continue_loss": q_cont,
             "seq_is_correct": seq_is_correct}
    return total, parts, metrics

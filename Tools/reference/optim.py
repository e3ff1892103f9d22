"""Optimizers and learning-rate schedule of docs/SPEC.md §6, in float64.

AdamATan2 (a = b = 1, no epsilon, decoupled weight decay applied before the moments):
    t += 1
    p *= 1 - lr * wd
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g^2
    p -= lr * atan2(m / (1 - b1^t), sqrt(v / (1 - b2^t)))
atan2(0, 0) = 0, so an element with a zero gradient history only decays.

Sparse sign-SGD for the puzzle embedding: gradients of slots with the same identifier
are summed first, then for every identifier present: p = p * (1 - lr * wd) - lr * sign(g)
(sign(0) = 0). Rows of absent identifiers are untouched.
"""

from __future__ import annotations

import math
from typing import Dict

import torch


class AdamATan2State:
    def __init__(self):
        self.t = 0
        self.m: Dict[str, torch.Tensor] = {}
        self.v: Dict[str, torch.Tensor] = {}


def adam_atan2_step(params: Dict[str, torch.Tensor], grads: Dict[str, torch.Tensor],
                    state: AdamATan2State, lr: float, beta1: float = 0.9, beta2: float = 0.95,
                    weight_decay: float = 0.1) -> Dict[str, torch.Tensor]:
    """Returns the updated tensors (new tensors; inputs unchanged). `state` is updated."""
    state.t += 1
    t = state.t
    bias1 = 1.0 - beta1 ** t
    bias2 = 1.0 - beta2 ** t
    new = {}
    for name, p in params.items():
        g = grads[name]
        m = state.m.get(name, torch.zeros_like(p))
        v = state.v.get(name, torch.zeros_like(p))
        p = p * (1.0 - lr * weight_decay)
        m = beta1 * m + (1.0 - beta1) * g
        v = beta2 * v + (1.0 - beta2) * g * g
        p = p - lr * torch.atan2(m / bias1, torch.sqrt(v / bias2))
        state.m[name], state.v[name] = m, v
        new[name] = p
    return new


def sparse_sign_sgd_step(table: torch.Tensor, identifiers: torch.Tensor, slot_grads: torch.Tensor,
                         lr: float, weight_decay: float = 0.1) -> torch.Tensor:
    """table [N, ndim]; identifiers [B]; slot_grads [B, ndim] (gradient of each batch
    slot's looked-up row). Returns the updated table."""
    ids = identifiers.long()
    unique_ids, inverse = torch.unique(ids, return_inverse=True)
    summed = torch.zeros(unique_ids.shape[0], table.shape[1], dtype=table.dtype)
    summed.index_add_(0, inverse, slot_grads)
    out = table.clone()
    rows = out[unique_ids] * (1.0 - lr * weight_decay) - lr * torch.sign(summed)
    out[unique_ids] = rows
    return out


def learning_rate(step: int, base_lr: float, warmup_steps: int, total_steps: int,
                  min_ratio: float = 1.0) -> float:
    """The reference schedule; `step` is the 1-based index of the optimizer step being taken
    (the reference increments its counter before computing the rate)."""
    if step < warmup_steps:
        return base_lr * step / max(1, warmup_steps)
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return base_lr * (min_ratio + max(0.0, (1 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))))

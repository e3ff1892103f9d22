"""Independent PyTorch reference of the Tiny Recursive Model's inner step (docs/SPEC.md §9),
written for golden fixtures, not for speed, in the style of hrm_reference.py.

TRM reuses HRM's blocks, embeddings and heads (§4), so the kernels come from hrm_reference
(`transformer_block`, `rope_cos_sin`, `linear`, `input_embeddings`, `truncated_normal`, ...);
this file adds what differs: the configuration (puzzle_emb_len, no H network), the parameter
list with the official TRM state_dict names, the one network `net`, and the inner step with
H_cycles - 1 cycles without gradient and the last cycle differentiated in full.

Parameters live in a plain dict keyed by the state_dict names (`model.inner....`), tensors are
float64 on the CPU, gradients come from torch.autograd.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from typing import Dict, Optional, Tuple

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import hrm_reference as hrm  # noqa: E402

Params = Dict[str, torch.Tensor]

BUFFER_NAMES = hrm.BUFFER_NAMES          # H_init, L_init: persistent buffers, no gradient
PUZZLE_EMB_NAME = hrm.PUZZLE_EMB_NAME    # the puzzle table, trained by sparse sign-SGD


@dataclasses.dataclass
class TRMConfig:
    hidden_size: int = 8
    num_heads: int = 2
    expansion: float = 4.0
    L_layers: int = 2
    H_cycles: int = 2
    L_cycles: int = 3
    vocab_size: int = hrm.VOCAB_SIZE
    seq_len: int = 9
    puzzle_emb_ndim: int = 12
    # P when non-zero; 0 means ceil(puzzle_emb_ndim / D) as in HRM (spec §9).
    puzzle_emb_len_setting: int = 3
    num_puzzle_identifiers: int = 4  # rows of the puzzle-embedding table, row 0 = blank
    halt_max_steps: int = 2
    no_ACT_continue: bool = True
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0

    @property
    def head_dim(self) -> int:
        assert self.hidden_size % self.num_heads == 0
        return self.hidden_size // self.num_heads

    @property
    def puzzle_emb_len(self) -> int:
        """P: the setting when non-zero, else ceil(puzzle_emb_ndim / D)."""
        if self.puzzle_emb_len_setting != 0:
            return self.puzzle_emb_len_setting
        return -(-self.puzzle_emb_ndim // self.hidden_size)

    @property
    def total_len(self) -> int:
        """S = seq_len + P."""
        return self.seq_len + self.puzzle_emb_len

    @property
    def intermediate_size(self) -> int:
        """inter = round_up_to_256(round(expansion * D * 2 / 3)), as HRM."""
        raw = round(self.expansion * self.hidden_size * 2 / 3)
        return -(-raw // 256) * 256

    def check(self) -> None:
        assert self.puzzle_emb_ndim <= self.puzzle_emb_len * self.hidden_size, "puzzle row longer than P*D"
        assert (self.puzzle_emb_ndim == 0) == (self.puzzle_emb_len == 0), "P > 0 needs a puzzle embedding"
        assert self.H_cycles >= 1 and self.L_cycles >= 1 and self.L_layers >= 1

    def to_json_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["puzzle_emb_len"] = d.pop("puzzle_emb_len_setting")
        d.update(head_dim=self.head_dim, puzzle_tokens=self.puzzle_emb_len,
                 total_len=self.total_len, intermediate_size=self.intermediate_size)
        return d


def parameter_shapes(cfg: TRMConfig) -> Dict[str, Tuple[int, ...]]:
    """Every tensor of the official TRM state_dict (trainable or not), in a fixed order.
    One network: only `L_level` layers, no `H_level`."""
    D = cfg.hidden_size
    shapes = {
        "model.inner.H_init": (D,),
        "model.inner.L_init": (D,),
        "model.inner.embed_tokens.embedding_weight": (cfg.vocab_size, D),
        "model.inner.lm_head.weight": (cfg.vocab_size, D),
        "model.inner.q_head.weight": (2, D),
        "model.inner.q_head.bias": (2,),
        PUZZLE_EMB_NAME: (cfg.num_puzzle_identifiers, cfg.puzzle_emb_ndim),
    }
    for i in range(cfg.L_layers):
        for name, shape in hrm.block_param_shapes(cfg).items():
            shapes[f"{hrm.level_prefix('L', i)}.{name}"] = shape
    return shapes


def trainable_names(cfg: TRMConfig):
    """Everything but H_init / L_init (the puzzle table included)."""
    return [n for n in parameter_shapes(cfg) if n not in BUFFER_NAMES]


def init_params(cfg: TRMConfig, generator: torch.Generator) -> Params:
    """The spec's initialisation (§4, §9), in parameter_shapes order."""
    D = cfg.hidden_size
    params: Params = {}
    for name, shape in parameter_shapes(cfg).items():
        if name in BUFFER_NAMES:
            t = hrm.truncated_normal(shape, 1.0, generator)
        elif name == "model.inner.embed_tokens.embedding_weight":
            t = hrm.truncated_normal(shape, 1.0 / math.sqrt(D), generator)
        elif name in (PUZZLE_EMB_NAME, "model.inner.q_head.weight"):
            t = torch.zeros(shape, dtype=torch.float64)
        elif name == "model.inner.q_head.bias":
            t = torch.full(shape, -5.0, dtype=torch.float64)
        else:  # every Linear weight [out, in]: std 1/sqrt(fan_in)
            t = hrm.truncated_normal(shape, 1.0 / math.sqrt(shape[1]), generator)
        params[name] = t
    return params


def net(params: Params, cfg: TRMConfig, z: torch.Tensor, injection: torch.Tensor, cos, sin) -> torch.Tensor:
    """The one network: z = z + injection, then the L_layers post-norm blocks in order."""
    z = z + injection
    for i in range(cfg.L_layers):
        z = hrm.transformer_block(z, *hrm.block_weights(params, "L", i), cfg.num_heads, cos, sin,
                                  cfg.rms_norm_eps)
    return z


def cycle(params: Params, cfg: TRMConfig, z_H, z_L, x, cos, sin):
    """One H cycle: L_cycles latent updates z_L = net(z_L, z_H + x), then the answer update
    z_H = net(z_H, z_L) (no x in the answer update)."""
    for _ in range(cfg.L_cycles):
        z_L = net(params, cfg, z_L, z_H + x, cos, sin)
    z_H = net(params, cfg, z_H, z_L, cos, sin)
    return z_H, z_L


def heads(params: Params, cfg: TRMConfig, z_H: torch.Tensor):
    """logits = lm_head(z_H)[:, P:]; (q_halt, q_continue) = q_head(z_H[:, 0])."""
    logits = hrm.linear(z_H, params["model.inner.lm_head.weight"])[:, cfg.puzzle_emb_len:]
    q = hrm.linear(z_H[:, 0], params["model.inner.q_head.weight"]) + params["model.inner.q_head.bias"]
    return logits, q[:, 0], q[:, 1]


def last_cycle(params: Params, cfg: TRMConfig, z_H, z_L, x, cos, sin) -> dict:
    """The differentiated part: the whole last H cycle from (z_H, z_L), then the heads."""
    z_H, z_L = cycle(params, cfg, z_H, z_L, x, cos, sin)
    logits, q_halt, q_continue = heads(params, cfg, z_H)
    return {"z_H": z_H.detach(), "z_L": z_L.detach(), "logits": logits,
            "q_halt_logits": q_halt, "q_continue_logits": q_continue}


def inner_step(params: Params, cfg: TRMConfig, z_H: torch.Tensor, z_L: torch.Tensor,
               inputs: torch.Tensor, puzzle_identifiers: torch.Tensor,
               position_ids: Optional[torch.Tensor] = None) -> dict:
    """One TRM inner step (spec §9). inputs [B, L]; positions 0..S-1 unless position_ids [P + L]
    are given (a canvas crop). Returns the new carry (detached), logits [B, L, vocab],
    q_halt / q_continue [B], and debug tensors: the input embeddings and the carry after the
    cycles without gradient."""
    cfg.check()
    if position_ids is None:
        cos, sin = hrm.rope_cos_sin(cfg.total_len, cfg.head_dim, cfg.rope_theta)
    else:
        assert position_ids.shape == (cfg.puzzle_emb_len + inputs.shape[1],)
        cos, sin = hrm.rope_cos_sin(position_ids.shape[0], cfg.head_dim, cfg.rope_theta, position_ids)
    # hrm.input_embeddings reads hidden_size, puzzle_emb_len and puzzle_emb_ndim: the same rule.
    x = hrm.input_embeddings(params, cfg, inputs, puzzle_identifiers)
    with torch.no_grad():
        for _ in range(cfg.H_cycles - 1):
            z_H, z_L = cycle(params, cfg, z_H, z_L, x, cos, sin)
    z_H_nograd, z_L_nograd = z_H.detach(), z_L.detach()
    out = last_cycle(params, cfg, z_H_nograd, z_L_nograd, x, cos, sin)
    out.update(input_embeddings=x, z_H_nograd=z_H_nograd, z_L_nograd=z_L_nograd, cos=cos, sin=sin)
    return out

"""Independent PyTorch reference of the HRM model (docs/SPEC.md §4) and its
ACT wrapper (section 5), written for golden fixtures, not for speed.

Everything is functional: parameters live in a plain dict keyed by the reference
state_dict names (`model.inner....`), tensors are float64 on the CPU, and gradients
come from torch.autograd. No torch.nn modules, no fused kernels, so every operation
is visible and can be matched one to one by the Swift implementation.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Dict, Optional, Tuple

import torch

Params = Dict[str, torch.Tensor]

PAD_ID = 0
EOS_ID = 1
VOCAB_SIZE = 12


# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------

@dataclasses.dataclass
class HRMConfig:
    hidden_size: int = 32
    num_heads: int = 2
    expansion: float = 4.0
    H_layers: int = 1
    L_layers: int = 1
    H_cycles: int = 2
    L_cycles: int = 2
    vocab_size: int = VOCAB_SIZE
    seq_len: int = 16
    puzzle_emb_ndim: int = 32
    num_puzzle_identifiers: int = 5  # rows of the puzzle-embedding table, row 0 = blank
    halt_max_steps: int = 2
    halt_exploration_prob: float = 0.0
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    # Only for gradcheck on a very small model; None = the spec formula.
    intermediate_size_override: Optional[int] = None

    @property
    def head_dim(self) -> int:
        assert self.hidden_size % self.num_heads == 0
        return self.hidden_size // self.num_heads

    @property
    def puzzle_emb_len(self) -> int:
        """P = ceil(puzzle_emb_ndim / D)."""
        return -(-self.puzzle_emb_ndim // self.hidden_size)

    @property
    def total_len(self) -> int:
        """S = seq_len + P."""
        return self.seq_len + self.puzzle_emb_len

    @property
    def intermediate_size(self) -> int:
        """inter = round_up_to_256(round(expansion * D * 2 / 3)) (Python round = half to even)."""
        if self.intermediate_size_override is not None:
            return self.intermediate_size_override
        raw = round(self.expansion * self.hidden_size * 2 / 3)
        return -(-raw // 256) * 256

    def to_json_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("intermediate_size_override")
        d.update(head_dim=self.head_dim, puzzle_emb_len=self.puzzle_emb_len,
                 total_len=self.total_len, intermediate_size=self.intermediate_size)
        return d


# ---------------------------------------------------------------------------
# Initialisation
# ---------------------------------------------------------------------------

def truncated_normal(shape, std: float, generator: torch.Generator,
                     lower: float = -2.0, upper: float = 2.0) -> torch.Tensor:
    """JAX-style truncated normal: a standard normal truncated to [lower, upper]
    (in units of the *untruncated* sigma), then scaled so that the result has
    standard deviation exactly `std`.

    corrected_std = std / sqrt(1 - (u*phi(u) - l*phi(l)) / Z - ((phi(u) - phi(l)) / Z)^2)
    with phi the standard normal pdf, Z = Phi(u) - Phi(l). For l=-2, u=2 the factor
    is 1/0.87962566 = 1.1368472. Sampling by inverse CDF: w ~ U(erf(l/sqrt2), erf(u/sqrt2)),
    x = sqrt2 * erfinv(w) * corrected_std, clipped to [l, u] * corrected_std.
    """
    if std == 0:
        return torch.zeros(shape, dtype=torch.float64)
    sqrt2 = math.sqrt(2.0)
    a = math.erf(lower / sqrt2)
    b = math.erf(upper / sqrt2)
    z = (b - a) / 2.0
    c = 1.0 / math.sqrt(2.0 * math.pi)
    pdf_l = c * math.exp(-0.5 * lower ** 2)
    pdf_u = c * math.exp(-0.5 * upper ** 2)
    variance_factor = 1.0 - (upper * pdf_u - lower * pdf_l) / z - ((pdf_u - pdf_l) / z) ** 2
    corrected_std = std / math.sqrt(variance_factor)
    w = torch.rand(shape, dtype=torch.float64, generator=generator) * (b - a) + a
    x = torch.special.erfinv(w) * (sqrt2 * corrected_std)
    return x.clamp(lower * corrected_std, upper * corrected_std)


def level_prefix(level: str, layer: int) -> str:
    return f"model.inner.{level}_level.layers.{layer}"


def block_param_shapes(cfg: HRMConfig) -> Dict[str, Tuple[int, ...]]:
    D, I = cfg.hidden_size, cfg.intermediate_size
    return {
        "self_attn.qkv_proj.weight": (3 * D, D),
        "self_attn.o_proj.weight": (D, D),
        "mlp.gate_up_proj.weight": (2 * I, D),
        "mlp.down_proj.weight": (D, I),
    }


def parameter_shapes(cfg: HRMConfig) -> Dict[str, Tuple[int, ...]]:
    """All tensors of the reference state_dict (trainable or not), in a fixed order."""
    D = cfg.hidden_size
    shapes = {
        "model.inner.H_init": (D,),
        "model.inner.L_init": (D,),
        "model.inner.embed_tokens.embedding_weight": (cfg.vocab_size, D),
        "model.inner.lm_head.weight": (cfg.vocab_size, D),
        "model.inner.q_head.weight": (2, D),
        "model.inner.q_head.bias": (2,),
        "model.inner.puzzle_emb.weights": (cfg.num_puzzle_identifiers, cfg.puzzle_emb_ndim),
    }
    for level, n in (("H", cfg.H_layers), ("L", cfg.L_layers)):
        for i in range(n):
            for name, shape in block_param_shapes(cfg).items():
                shapes[f"{level_prefix(level, i)}.{name}"] = shape
    return shapes


BUFFER_NAMES = ("model.inner.H_init", "model.inner.L_init")
PUZZLE_EMB_NAME = "model.inner.puzzle_emb.weights"


def trainable_names(cfg: HRMConfig):
    """Tensors that receive a gradient: everything but H_init/L_init (the puzzle
    embedding included; it is updated by sparse sign-SGD, the rest by AdamATan2)."""
    return [n for n in parameter_shapes(cfg) if n not in BUFFER_NAMES]


def adam_names(cfg: HRMConfig):
    return [n for n in trainable_names(cfg) if n != PUZZLE_EMB_NAME]


def init_params(cfg: HRMConfig, generator: torch.Generator) -> Params:
    """The spec's initialisation (section 4), in parameter_shapes order."""
    D = cfg.hidden_size
    params: Params = {}
    for name, shape in parameter_shapes(cfg).items():
        if name in BUFFER_NAMES:
            t = truncated_normal(shape, 1.0, generator)
        elif name == "model.inner.embed_tokens.embedding_weight":
            t = truncated_normal(shape, 1.0 / math.sqrt(D), generator)
        elif name == PUZZLE_EMB_NAME:
            t = torch.zeros(shape, dtype=torch.float64)
        elif name == "model.inner.q_head.weight":
            t = torch.zeros(shape, dtype=torch.float64)
        elif name == "model.inner.q_head.bias":
            t = torch.full(shape, -5.0, dtype=torch.float64)
        else:  # every Linear weight [out, in]: std 1/sqrt(fan_in)
            t = truncated_normal(shape, 1.0 / math.sqrt(shape[1]), generator)
        params[name] = t
    return params


def round_to_f32(params: Params) -> Params:
    """Make every value exactly representable in float32 (kept as float64)."""
    return {k: v.detach().to(torch.float32).to(torch.float64) for k, v in params.items()}


# ---------------------------------------------------------------------------
# Kernels (each one operation of section 4)
# ---------------------------------------------------------------------------

def linear(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """y = x W^T, W is [out, in], no bias."""
    return x @ w.transpose(0, 1)


def rms_norm(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """v / sqrt(mean(v^2) + eps) over the last axis, no learned scale."""
    return x / torch.sqrt((x * x).mean(dim=-1, keepdim=True) + eps)


def rope_cos_sin(seq_len: int, head_dim: int, theta: float = 10000.0,
                 position_ids: Optional[torch.Tensor] = None):
    """cos, sin tables [seq_len, head_dim]: angle[p, j] = pos(p) * theta^(-2i/hd) with
    i = j mod hd/2 (frequencies duplicated to head_dim). Computed in float64.
    pos(p) = p, or position_ids[p] when given (then seq_len must equal its length)."""
    half = head_dim // 2
    inv_freq = 1.0 / (theta ** (torch.arange(0, half, dtype=torch.float64) * 2.0 / head_dim))
    if position_ids is None:
        positions = torch.arange(seq_len, dtype=torch.float64)
    else:
        assert position_ids.shape == (seq_len,), (position_ids.shape, seq_len)
        positions = position_ids.to(torch.float64)
    angles = positions[:, None] * inv_freq[None, :]
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x [B, S, H, hd]; cos, sin [S, hd]: x*cos + rotate_half(x)*sin."""
    return x * cos[:, None, :] + rotate_half(x) * sin[:, None, :]


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Non-causal multi-head attention. q, k, v [B, S, H, hd] -> [B, S, H*hd]."""
    B, S, H, hd = q.shape
    qh, kh, vh = (t.permute(0, 2, 1, 3) for t in (q, k, v))  # [B, H, S, hd]
    scores = (qh @ kh.transpose(-1, -2)) / math.sqrt(hd)      # [B, H, S, S]
    probs = torch.softmax(scores, dim=-1)
    out = probs @ vh                                            # [B, H, S, hd]
    return out.permute(0, 2, 1, 3).reshape(B, S, H * hd)


def silu(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(x)


def swiglu(x: torch.Tensor, w_gate_up: torch.Tensor, w_down: torch.Tensor) -> torch.Tensor:
    """[gate | up] = x W_gu^T (gate = first half of the rows); out = (silu(gate)*up) W_down^T."""
    inter = w_down.shape[1]
    gate_up = linear(x, w_gate_up)
    gate, up = gate_up[..., :inter], gate_up[..., inter:]
    return linear(silu(gate) * up, w_down)


def self_attention(h: torch.Tensor, w_qkv: torch.Tensor, w_o: torch.Tensor,
                   num_heads: int, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """qkv = h W_qkv^T, rows q|k|v, heads contiguous; RoPE on q, k; attention; o_proj."""
    B, S, D = h.shape
    hd = D // num_heads
    qkv = linear(h, w_qkv).view(B, S, 3 * num_heads, hd)
    q = qkv[:, :, :num_heads]
    k = qkv[:, :, num_heads:2 * num_heads]
    v = qkv[:, :, 2 * num_heads:]
    q = apply_rope(q, cos, sin)
    k = apply_rope(k, cos, sin)
    return linear(attention(q, k, v), w_o)


def transformer_block(h: torch.Tensor, w_qkv, w_o, w_gate_up, w_down, num_heads: int,
                      cos, sin, eps: float = 1e-5) -> torch.Tensor:
    """Post-norm block: h = rms(h + attn(h)); h = rms(h + swiglu(h))."""
    h = rms_norm(h + self_attention(h, w_qkv, w_o, num_heads, cos, sin), eps)
    h = rms_norm(h + swiglu(h, w_gate_up, w_down), eps)
    return h


def token_embedding(tokens: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """sqrt(D) * weight[tokens] (the scale the model applies to every input token)."""
    return math.sqrt(weight.shape[1]) * weight[tokens.long()]


# ---------------------------------------------------------------------------
# The model (section 4)
# ---------------------------------------------------------------------------

def block_weights(params: Params, level: str, layer: int):
    p = level_prefix(level, layer)
    return (params[f"{p}.self_attn.qkv_proj.weight"], params[f"{p}.self_attn.o_proj.weight"],
            params[f"{p}.mlp.gate_up_proj.weight"], params[f"{p}.mlp.down_proj.weight"])


def reasoning_module(params: Params, cfg: HRMConfig, level: str, z: torch.Tensor,
                     injection: torch.Tensor, cos, sin) -> torch.Tensor:
    """z = z + injection, then the level's blocks in order."""
    n_layers = cfg.H_layers if level == "H" else cfg.L_layers
    z = z + injection
    for i in range(n_layers):
        z = transformer_block(z, *block_weights(params, level, i), cfg.num_heads, cos, sin,
                              cfg.rms_norm_eps)
    return z


def input_embeddings(params: Params, cfg: HRMConfig, inputs: torch.Tensor,
                     puzzle_identifiers: torch.Tensor) -> torch.Tensor:
    """x = sqrt(D) * concat(puzzle tokens, token embeddings) -> [B, S, D].
    The puzzle row [ndim] is zero-padded to P*D and reshaped to P tokens."""
    D, P = cfg.hidden_size, cfg.puzzle_emb_len
    tokens = params["model.inner.embed_tokens.embedding_weight"][inputs.long()]  # [B, L, D]
    if cfg.puzzle_emb_ndim > 0:
        rows = params[PUZZLE_EMB_NAME][puzzle_identifiers.long()]  # [B, ndim]
        pad = P * D - cfg.puzzle_emb_ndim
        if pad > 0:
            rows = torch.cat([rows, rows.new_zeros(rows.shape[0], pad)], dim=-1)
        tokens = torch.cat([rows.view(-1, P, D), tokens], dim=1)
    return math.sqrt(D) * tokens


def crop_position_ids(cfg: HRMConfig, side: int) -> torch.Tensor:
    """RoPE positions of the rows of one slot whose grid is the top-left side x side crop of
    the W x W canvas (seq_len = W*W): the P puzzle tokens keep 0..P-1 and grid token t (the
    canvas cell (t // side, t % side)) keeps its canvas position P + (t // side) * W + t % side.
    side = W gives 0..S-1, the positions of the full sequence."""
    width = math.isqrt(cfg.seq_len)
    assert width * width == cfg.seq_len and 1 <= side <= width, (cfg.seq_len, side)
    P = cfg.puzzle_emb_len
    t = torch.arange(side * side, dtype=torch.int64)
    return torch.cat([torch.arange(P, dtype=torch.int64), P + (t // side) * width + t % side])


def crop_canvas(encoded: torch.Tensor, width: int, side: int) -> torch.Tensor:
    """The top-left side x side corner of flattened W x W canvases [..., W*W] -> [..., side*side]."""
    lead = encoded.shape[:-1]
    return encoded.reshape(*lead, width, width)[..., :side, :side].reshape(*lead, side * side)


def initial_carry(params: Params, cfg: HRMConfig, batch_size: int, rows: Optional[int] = None):
    """(z_H, z_L) = H_init, L_init broadcast to [B, rows, D] (rows = S unless given)."""
    shape = (batch_size, cfg.total_len if rows is None else rows, cfg.hidden_size)
    return (params["model.inner.H_init"].detach().expand(shape).clone(),
            params["model.inner.L_init"].detach().expand(shape).clone())


def inner_step(params: Params, cfg: HRMConfig, z_H: torch.Tensor, z_L: torch.Tensor,
               inputs: torch.Tensor, puzzle_identifiers: torch.Tensor,
               position_ids: Optional[torch.Tensor] = None) -> dict:
    """One inner step (spec 4 "Inner step"). Returns a dict with the new carry
    (detached), logits [B, L, vocab], q_halt / q_continue [B], and debug
    tensors: the input embeddings and the carry after the no-grad part.
    inputs are [B, L] with L = seq_len (positions 0..S-1), or any L with position_ids
    [P + L] giving each row's RoPE position (e.g. crop_position_ids for a cropped canvas)."""
    if position_ids is None:
        cos, sin = rope_cos_sin(cfg.total_len, cfg.head_dim, cfg.rope_theta)
    else:
        assert position_ids.shape == (cfg.puzzle_emb_len + inputs.shape[1],)
        cos, sin = rope_cos_sin(position_ids.shape[0], cfg.head_dim, cfg.rope_theta, position_ids)
    x = input_embeddings(params, cfg, inputs, puzzle_identifiers)

    with torch.no_grad():
        for h in range(cfg.H_cycles):
            for l in range(cfg.L_cycles):
                is_very_last = (h == cfg.H_cycles - 1) and (l == cfg.L_cycles - 1)
                if not is_very_last:
                    z_L = reasoning_module(params, cfg, "L", z_L, z_H + x, cos, sin)
            if h != cfg.H_cycles - 1:
                z_H = reasoning_module(params, cfg, "H", z_H, z_L, cos, sin)
    z_H_nograd, z_L_nograd = z_H.detach(), z_L.detach()

    out = one_step_grad_part(params, cfg, z_H_nograd, z_L_nograd, x, cos, sin)
    out["input_embeddings"] = x
    out["z_H_nograd"] = z_H_nograd
    out["z_L_nograd"] = z_L_nograd
    return out


def one_step_grad_part(params: Params, cfg: HRMConfig, z_H, z_L, x, cos, sin) -> dict:
    """The differentiated part of the inner step (the 1-step gradient approximation):
    z_L = L(z_L, z_H + x); z_H = H(z_H, z_L); heads."""
    z_L = reasoning_module(params, cfg, "L", z_L, z_H + x, cos, sin)
    z_H = reasoning_module(params, cfg, "H", z_H, z_L, cos, sin)
    logits = linear(z_H, params["model.inner.lm_head.weight"])[:, cfg.puzzle_emb_len:]
    q = linear(z_H[:, 0], params["model.inner.q_head.weight"]) + params["model.inner.q_head.bias"]
    return {
        "z_H": z_H.detach(), "z_L": z_L.detach(),
        "logits": logits, "q_halt_logits": q[:, 0], "q_continue_logits": q[:, 1],
    }


# ---------------------------------------------------------------------------
# ACT wrapper (section 5)
# ---------------------------------------------------------------------------

@dataclasses.dataclass
class ACTCarry:
    z_H: torch.Tensor
    z_L: torch.Tensor
    steps: torch.Tensor       # [B] int64
    halted: torch.Tensor      # [B] bool
    current: Dict[str, torch.Tensor]  # inputs, labels, puzzle_identifiers of each slot


def act_initial_carry(cfg: HRMConfig, batch: Dict[str, torch.Tensor]) -> ACTCarry:
    """Every slot starts halted, so the first call resets all of them."""
    B = batch["inputs"].shape[0]
    shape = (B, cfg.total_len, cfg.hidden_size)
    return ACTCarry(torch.zeros(shape, dtype=torch.float64), torch.zeros(shape, dtype=torch.float64),
                    torch.zeros(B, dtype=torch.int64), torch.ones(B, dtype=torch.bool),
                    {k: torch.zeros_like(v) for k, v in batch.items()})


def act_step(params: Params, cfg: HRMConfig, carry: ACTCarry, batch: Dict[str, torch.Tensor],
             training: bool, generator: Optional[torch.Generator] = None):
    """One call of the ACT model. Returns (new carry, outputs dict)."""
    reset = carry.halted
    r3 = reset.view(-1, 1, 1)
    z_H = torch.where(r3, params["model.inner.H_init"].detach(), carry.z_H)
    z_L = torch.where(r3, params["model.inner.L_init"].detach(), carry.z_L)
    steps = torch.where(reset, torch.zeros_like(carry.steps), carry.steps)
    current = {}
    for k, v in carry.current.items():
        mask = reset.view((-1,) + (1,) * (batch[k].ndim - 1))
        current[k] = torch.where(mask, batch[k], v)

    out = inner_step(params, cfg, z_H, z_L, current["inputs"], current["puzzle_identifiers"])

    with torch.no_grad():
        steps = steps + 1
        is_last_step = steps >= cfg.halt_max_steps
        halted = is_last_step
        if training and cfg.halt_max_steps > 1:
            halted = halted | (out["q_halt_logits"] > out["q_continue_logits"])
            if cfg.halt_exploration_prob > 0:
                explore = torch.rand(steps.shape, dtype=torch.float64, generator=generator) < cfg.halt_exploration_prob
                min_halt = torch.randint(2, cfg.halt_max_steps + 1, steps.shape, generator=generator)
                min_halt_steps = explore.long() * min_halt
            else:
                min_halt_steps = torch.zeros_like(steps)
            halted = halted & (steps >= min_halt_steps)
            nxt = inner_step(params, cfg, out["z_H"], out["z_L"], current["inputs"],
                             current["puzzle_identifiers"])
            nq_halt, nq_cont = nxt["q_halt_logits"].detach(), nxt["q_continue_logits"].detach()
            out["target_q_continue"] = torch.sigmoid(
                torch.where(is_last_step, nq_halt, torch.maximum(nq_halt, nq_cont)))
            out["next_q_halt_logits"] = nq_halt
            out["next_q_continue_logits"] = nq_cont

    new_carry = ACTCarry(out["z_H"], out["z_L"], steps, halted, current)
    return new_carry, out


# ---------------------------------------------------------------------------
# Encoding helper for fixtures (section 2, on a small canvas)
# ---------------------------------------------------------------------------

def encode_grid(grid, canvas: int, r0: int = 0, c0: int = 0) -> torch.Tensor:
    """Colour c -> c+2 at offset (r0, c0), EOS row below / column right, PAD elsewhere."""
    nrow, ncol = len(grid), len(grid[0])
    out = torch.zeros(canvas, canvas, dtype=torch.int64)
    for r in range(nrow):
        for c in range(ncol):
            out[r0 + r, c0 + c] = grid[r][c] + 2
    if r0 + nrow < canvas:
        out[r0 + nrow, c0:c0 + ncol] = EOS_ID
    if c0 + ncol < canvas:
        out[r0:r0 + nrow, c0 + ncol] = EOS_ID
    return out.reshape(-1)


def config_json(cfg: HRMConfig, **extra) -> str:
    d = cfg.to_json_dict()
    d.update(extra)
    return json.dumps(d, sort_keys=True)

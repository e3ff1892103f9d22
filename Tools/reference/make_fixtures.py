"""Generate the golden fixtures in Tests/Fixtures/ (see Tests/Fixtures/README.md).

    python3 Tools/reference/make_fixtures.py [--out Tests/Fixtures]

Deterministic: every random value comes from torch.Generator objects with fixed
seeds; all inputs and weights are rounded to float32 *before* the float64
computation, so the stored F32 inputs are exactly the values used.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import struct
import sys
from typing import Dict

import torch
from safetensors import safe_open

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import hrm_reference as hrm  # noqa: E402
import losses  # noqa: E402
import optim  # noqa: E402

FORMAT = "arc-pipeline-hrm-fixture-v1"
KERNEL_SEED = 1234
MODEL_A_SEED = 2024
MODEL_B_SEED = 2025
MODEL_B_Q_BIAS = (0.4, -0.25)  # chosen so that exactly one slot halts after call 1
MODEL_CROP_SEED = 2026
CROP_WIDTH, CROP_SIDE = 5, 3  # model_crop: the top-left 3x3 of a 5x5 canvas


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def f32(t: torch.Tensor) -> torch.Tensor:
    """Round to float32, keep float64 for computation."""
    return t.detach().to(torch.float32).to(torch.float64)


def randn(gen, *shape, scale=1.0) -> torch.Tensor:
    return f32(torch.randn(shape, dtype=torch.float64, generator=gen) * scale)


def save(path: str, tensors: Dict[str, torch.Tensor], config: dict) -> None:
    out = {}
    for name, t in tensors.items():
        t = t.detach()
        if t.dtype in (torch.bool, torch.int64, torch.int32, torch.int16, torch.uint8):
            t = t.to(torch.int32)
        else:
            t = t.to(torch.float32)
        if t.ndim == 0:
            t = t.reshape(1)
        out[name] = t.contiguous()
    metadata = {"format": FORMAT, "config": json.dumps(config, sort_keys=True)}
    tmp = path + ".partial"
    write_safetensors(tmp, out, metadata)
    os.replace(tmp, path)
    print(f"wrote {path}: {len(out)} tensors, {os.path.getsize(path)} bytes")


def write_safetensors(path: str, tensors: Dict[str, torch.Tensor], metadata: Dict[str, str]) -> None:
    """A byte-for-byte deterministic safetensors writer (safetensors.torch.save_file
    orders the header's __metadata__ differently from run to run). Layout: u64 little-
    endian header length, JSON header ({"__metadata__": {...}, name: {dtype, shape,
    data_offsets}} with tensors in name order), padded with spaces to a multiple of 8,
    then the raw little-endian tensor data in the same order."""
    dtypes = {torch.float32: "F32", torch.int32: "I32"}
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name in sorted(tensors):
        t = tensors[name]
        data = t.contiguous().numpy().tobytes()
        header[name] = {"dtype": dtypes[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for data in blobs:
            f.write(data)
    # Read back with the official library as a format check.
    with safe_open(path, "pt") as f:
        assert f.metadata() == metadata and set(f.keys()) == set(tensors)
        for name in tensors:
            assert torch.equal(f.get_tensor(name), tensors[name]), name


def grads_of(output: torch.Tensor, upstream: torch.Tensor, inputs):
    return torch.autograd.grad(output, inputs, grad_outputs=upstream)


# ---------------------------------------------------------------------------
# 1. kernels.safetensors
# ---------------------------------------------------------------------------

def make_kernels(path: str) -> None:
    gen = torch.Generator().manual_seed(KERNEL_SEED)
    T: Dict[str, torch.Tensor] = {}
    cfg: dict = {}

    # linear: x [2,3,5], w [4,5]
    x = randn(gen, 2, 3, 5).requires_grad_()
    w = randn(gen, 4, 5, scale=1 / math.sqrt(5)).requires_grad_()
    y = hrm.linear(x, w)
    dy = randn(gen, *y.shape)
    dx, dw = grads_of(y, dy, [x, w])
    T.update({"linear.x": x, "linear.w": w, "linear.y": y, "linear.dy": dy,
              "linear.dx": dx, "linear.dw": dw})
    cfg["linear"] = {"x": [2, 3, 5], "w": [4, 5], "formula": "y = x W^T"}

    # rms_norm: x [2,3,8]
    x = randn(gen, 2, 3, 8, scale=2.0).requires_grad_()
    y = hrm.rms_norm(x, 1e-5)
    dy = randn(gen, *y.shape)
    (dx,) = grads_of(y, dy, [x])
    T.update({"rms_norm.x": x, "rms_norm.y": y, "rms_norm.dy": dy, "rms_norm.dx": dx})
    cfg["rms_norm"] = {"x": [2, 3, 8], "eps": 1e-5}

    # rope: x [B=2, S=5, H=2, hd=8], positions 0..4
    B, S, H, hd = 2, 5, 2, 8
    cos, sin = hrm.rope_cos_sin(S, hd, 10000.0)
    x = randn(gen, B, S, H, hd).requires_grad_()
    y = hrm.apply_rope(x, cos, sin)
    dy = randn(gen, *y.shape)
    (dx,) = grads_of(y, dy, [x])
    T.update({"rope.x": x, "rope.cos": cos, "rope.sin": sin, "rope.y": y, "rope.dy": dy, "rope.dx": dx})
    cfg["rope"] = {"x": [B, S, H, hd], "theta": 10000.0, "positions": "0..S-1"}

    # attention: q, k, v [2, 5, 2, 4] -> [2, 5, 8]
    B, S, H, hd = 2, 5, 2, 4
    q = randn(gen, B, S, H, hd).requires_grad_()
    k = randn(gen, B, S, H, hd).requires_grad_()
    v = randn(gen, B, S, H, hd).requires_grad_()
    y = hrm.attention(q, k, v)
    dy = randn(gen, *y.shape)
    dq, dk, dv = grads_of(y, dy, [q, k, v])
    T.update({"attention.q": q, "attention.k": k, "attention.v": v, "attention.y": y,
              "attention.dy": dy, "attention.dq": dq, "attention.dk": dk, "attention.dv": dv})
    cfg["attention"] = {"q": [B, S, H, hd], "y": [B, S, H * hd], "causal": False,
                        "scale": "1/sqrt(head_dim)"}

    # swiglu: x [2, 5, 8], inter 6
    D, I = 8, 6
    x = randn(gen, 2, 5, D).requires_grad_()
    wgu = randn(gen, 2 * I, D, scale=1 / math.sqrt(D)).requires_grad_()
    wdn = randn(gen, D, I, scale=1 / math.sqrt(I)).requires_grad_()
    y = hrm.swiglu(x, wgu, wdn)
    dy = randn(gen, *y.shape)
    dx, dwgu, dwdn = grads_of(y, dy, [x, wgu, wdn])
    T.update({"swiglu.x": x, "swiglu.w_gate_up": wgu, "swiglu.w_down": wdn, "swiglu.y": y,
              "swiglu.dy": dy, "swiglu.dx": dx, "swiglu.dw_gate_up": dwgu, "swiglu.dw_down": dwdn})
    cfg["swiglu"] = {"x": [2, 5, D], "inter": I, "w_gate_up": [2 * I, D], "w_down": [D, I]}

    # block: x [2, 5, 8], heads 2 (hd 4), inter 6, RoPE positions 0..4
    B, S, D, H, I = 2, 5, 8, 2, 6
    cos, sin = hrm.rope_cos_sin(S, D // H, 10000.0)
    x = randn(gen, B, S, D).requires_grad_()
    wqkv = randn(gen, 3 * D, D, scale=1 / math.sqrt(D)).requires_grad_()
    wo = randn(gen, D, D, scale=1 / math.sqrt(D)).requires_grad_()
    wgu = randn(gen, 2 * I, D, scale=1 / math.sqrt(D)).requires_grad_()
    wdn = randn(gen, D, I, scale=1 / math.sqrt(I)).requires_grad_()
    y = hrm.transformer_block(x, wqkv, wo, wgu, wdn, H, cos, sin, 1e-5)
    dy = randn(gen, *y.shape)
    dx, dwqkv, dwo, dwgu, dwdn = grads_of(y, dy, [x, wqkv, wo, wgu, wdn])
    T.update({"block.x": x, "block.w_qkv": wqkv, "block.w_o": wo, "block.w_gate_up": wgu,
              "block.w_down": wdn, "block.y": y, "block.dy": dy, "block.dx": dx,
              "block.dw_qkv": dwqkv, "block.dw_o": dwo, "block.dw_gate_up": dwgu,
              "block.dw_down": dwdn})
    cfg["block"] = {"x": [B, S, D], "num_heads": H, "head_dim": D // H, "inter": I,
                    "eps": 1e-5, "rope_theta": 10000.0}

    # embedding: tokens [2, 5] in 0..11, weight [12, 8]; y = sqrt(8) * w[tokens]
    tokens = torch.tensor([[0, 1, 2, 2, 5], [11, 0, 0, 3, 2]], dtype=torch.int64)
    w = randn(gen, 12, 8, scale=1 / math.sqrt(8)).requires_grad_()
    y = hrm.token_embedding(tokens, w)
    dy = randn(gen, *y.shape)
    (dw,) = grads_of(y, dy, [w])
    T.update({"embedding.tokens": tokens, "embedding.w": w, "embedding.y": y,
              "embedding.dy": dy, "embedding.dw": dw})
    cfg["embedding"] = {"tokens": [2, 5], "w": [12, 8], "scale": "sqrt(D)"}

    # stablemax cross-entropy: logits [3, 5, 12], labels [3, 5] (0 = ignored; slot 2 all ignored)
    logits = randn(gen, 3, 5, 12, scale=2.0)
    logits[0, 0, 3] = 0.0  # exercise s(0) = 1 exactly
    logits = logits.requires_grad_()
    labels = torch.tensor([[3, 1, 0, 11, 4], [0, 0, 7, 2, 2], [0, 0, 0, 0, 0]], dtype=torch.int64)
    per_token = losses.stablemax_cross_entropy(logits, labels)
    lm = losses.lm_loss(logits, labels)
    (dlogits,) = torch.autograd.grad(lm, [logits])
    T.update({"stablemax_ce.logits": logits, "stablemax_ce.labels": labels,
              "stablemax_ce.loss_per_token": per_token, "stablemax_ce.lm_loss": lm,
              "stablemax_ce.dlogits": dlogits})
    cfg["stablemax_ce"] = {"logits": [3, 5, 12], "ignore_label": losses.IGNORE_LABEL,
                           "lm_loss": "sum_b (sum_t loss[b,t] / max(1, count_b))",
                           "dlogits": "d lm_loss / d logits (upstream 1)"}

    # BCE with logits: sum reduction
    x = torch.tensor([-3.0, -0.5, 0.0, 0.25, 2.0, 7.5], dtype=torch.float64).requires_grad_()
    tgt = torch.tensor([0.0, 1.0, 1.0, 0.0, 0.3, 0.9], dtype=torch.float64)
    loss = losses.bce_with_logits_sum(x, tgt)
    (dx,) = torch.autograd.grad(loss, [x])
    T.update({"bce.logits": x, "bce.targets": tgt, "bce.loss": loss, "bce.dlogits": dx})
    cfg["bce"] = {"logits": [6], "reduction": "sum",
                  "formula": "max(x,0) - x*y + log(1+exp(-|x|))"}

    # AdamATan2: 3 steps on a [3, 4] tensor, one element with zero gradient throughout
    lr, b1, b2, wd = 1e-2, 0.9, 0.95, 0.1
    p = randn(gen, 3, 4)
    gs = randn(gen, 3, 3, 4, scale=1e-2)
    gs[:, 1, 2] = 0.0
    state = optim.AdamATan2State()
    T["adam_atan2.p0"] = p.clone()
    T["adam_atan2.g"] = gs.clone()
    after = []
    for step in range(3):
        p = optim.adam_atan2_step({"p": p}, {"p": gs[step]}, state, lr, b1, b2, wd)["p"]
        after.append(p.clone())
    T["adam_atan2.p"] = torch.stack(after)
    T["adam_atan2.m"] = state.m["p"]
    T["adam_atan2.v"] = state.v["p"]
    cfg["adam_atan2"] = {"p0": [3, 4], "g": [3, 3, 4], "p": [3, 3, 4], "steps": 3, "lr": lr,
                         "beta1": b1, "beta2": b2, "weight_decay": wd,
                         "note": "p[i] = parameter after step t=i+1 with gradient g[i]; m, v after step 3"}

    # Sparse sign-SGD: table [6, 4], 5 slots with duplicate ids (1 twice, 4 twice)
    lr, wd = 5e-2, 0.1
    table = randn(gen, 6, 4)
    ids = torch.tensor([4, 1, 3, 1, 4], dtype=torch.int64)
    slot_grads = randn(gen, 5, 4)
    slot_grads[3, 0] = -slot_grads[1, 0]  # id 1, column 0: duplicates cancel -> sign 0
    new_table = optim.sparse_sign_sgd_step(table, ids, slot_grads, lr, wd)
    T.update({"sparse_sign_sgd.table0": table, "sparse_sign_sgd.ids": ids,
              "sparse_sign_sgd.slot_grads": slot_grads, "sparse_sign_sgd.table1": new_table})
    cfg["sparse_sign_sgd"] = {"table0": [6, 4], "ids": [5], "lr": lr, "weight_decay": wd}

    # Learning-rate schedule (warm-up then cosine to min_ratio * base), 1-based step index
    steps = [1, 2, 5, 9, 10, 11, 15, 20, 25, 29, 30]
    T["lr_schedule.steps"] = torch.tensor(steps, dtype=torch.int64)
    T["lr_schedule.lr_cosine"] = torch.tensor(
        [optim.learning_rate(k, 1e-4, 10, 30, 0.1) for k in steps], dtype=torch.float64)
    T["lr_schedule.lr_constant"] = torch.tensor(
        [optim.learning_rate(k, 1e-2, 10, 30, 1.0) for k in steps], dtype=torch.float64)
    cfg["lr_schedule"] = {"warmup_steps": 10, "total_steps": 30,
                          "lr_cosine": {"base_lr": 1e-4, "min_ratio": 0.1},
                          "lr_constant": {"base_lr": 1e-2, "min_ratio": 1.0},
                          "note": "step k = 1-based index of the optimizer step being taken"}

    cfg["seed"] = KERNEL_SEED
    save(path, T, cfg)


# ---------------------------------------------------------------------------
# 2-3. model_a / model_b
# ---------------------------------------------------------------------------

def fixture_params(cfg: hrm.HRMConfig, seed: int, q_bias=(1.2, -0.6)) -> Dict[str, torch.Tensor]:
    """Spec initialisation, but the puzzle embedding and q_head get non-trivial random
    values (so that their gradients are non-zero)."""
    gen = torch.Generator().manual_seed(seed)
    params = hrm.init_params(cfg, gen)
    D = cfg.hidden_size
    params[hrm.PUZZLE_EMB_NAME] = hrm.truncated_normal(
        params[hrm.PUZZLE_EMB_NAME].shape, 1.0 / math.sqrt(D), gen)
    params["model.inner.q_head.weight"] = hrm.truncated_normal((2, D), 1.0 / math.sqrt(D), gen)
    params["model.inner.q_head.bias"] = torch.tensor(q_bias, dtype=torch.float64)
    return hrm.round_to_f32(params)


def fixture_batch(batch_size: int):
    """Small hand-made ARC pairs encoded on a 4x4 canvas (spec 2)."""
    pairs = [
        # (input grid, output grid, (r0, c0), puzzle identifier)
        ([[1, 2, 3], [4, 5, 6]], [[6, 5, 4], [3, 2, 1]], (0, 0), 1),
        ([[7, 0, 7], [0, 7, 0], [7, 0, 7]], [[0, 7, 0], [7, 0, 7], [0, 7, 0]], (1, 1), 3),
        ([[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]],
         [[9, 8, 7, 6], [5, 4, 3, 2], [1, 0, 1, 0], [8, 8, 8, 8]], (0, 0), 1),
    ]
    pairs = pairs[:batch_size]
    inputs = torch.stack([hrm.encode_grid(p[0], 4, *p[2]) for p in pairs])
    labels = torch.stack([hrm.encode_grid(p[1], 4, *p[2]) for p in pairs])
    ids = torch.tensor([p[3] for p in pairs], dtype=torch.int64)
    return inputs, labels, ids


def top2_margin(logits: torch.Tensor) -> torch.Tensor:
    top = logits.topk(2, dim=-1).values
    return top[..., 0] - top[..., 1]


def crop_batch():
    """Pairs whose encoding (EOS included) fits the top-left 3x3 of a 5x5 canvas, cropped."""
    pairs = [
        ([[1, 2], [3, 4]], [[4, 3], [2, 1]], (0, 0), 3),
        ([[6], [7]], [[7], [6]], (0, 1), 1),
    ]
    inputs = torch.stack([hrm.encode_grid(p[0], CROP_WIDTH, *p[2]) for p in pairs])
    labels = torch.stack([hrm.encode_grid(p[1], CROP_WIDTH, *p[2]) for p in pairs])
    # Nothing but PAD outside the crop, so the crop is the whole example.
    for full in (inputs, labels):
        grid = full.reshape(-1, CROP_WIDTH, CROP_WIDTH)
        assert not bool(grid[:, CROP_SIDE:, :].any()) and not bool(grid[:, :, CROP_SIDE:].any())
    ids = torch.tensor([p[3] for p in pairs], dtype=torch.int64)
    return (hrm.crop_canvas(inputs, CROP_WIDTH, CROP_SIDE), hrm.crop_canvas(labels, CROP_WIDTH, CROP_SIDE), ids)


def model_fixture(cfg: hrm.HRMConfig, seed: int, batch_size: int, puzzle_ids=None, q_bias=(1.2, -0.6),
                  side=None):
    """Builds the tensors of a model_X fixture. Returns (tensors, config dict, context).
    side: None for the full 4x4 canvas; else the crop_batch examples (top-left side x side of
    the CROP_WIDTH canvas) at their canvas positions."""
    params = fixture_params(cfg, seed, q_bias)
    inputs, labels, ids = fixture_batch(batch_size) if side is None else crop_batch()
    if puzzle_ids is not None:
        ids = torch.tensor(puzzle_ids, dtype=torch.int64)
    position_ids = None if side is None else hrm.crop_position_ids(cfg, side)
    rows = None if side is None else cfg.puzzle_emb_len + side * side

    trainable = hrm.trainable_names(cfg)
    leaf = {k: (v.clone().requires_grad_() if k in trainable else v) for k, v in params.items()}
    z_H0, z_L0 = hrm.initial_carry(params, cfg, batch_size, rows)

    out = hrm.inner_step(leaf, cfg, z_H0, z_L0, inputs, ids, position_ids)
    # Slot 0's labels are the model's own predictions wherever the encoded output is
    # not PAD, so that slot is "exactly correct" (q_halt target 1); the others are not.
    preds = out["logits"].detach().argmax(-1)
    labels = labels.clone()
    labels[0] = torch.where(labels[0] != losses.IGNORE_LABEL, preds[0], labels[0])
    margins = top2_margin(out["logits"].detach())
    assert margins.min() > 1e-4, f"argmax margin too small: {margins.min()}"

    out2 = hrm.inner_step(params, cfg, out["z_H"], out["z_L"], inputs, ids, position_ids)
    q_target = f32(torch.sigmoid(torch.maximum(out2["q_halt_logits"], out2["q_continue_logits"])))

    _, seq_ok, _ = losses.sequence_correctness(out["logits"].detach(), labels)
    assert bool(seq_ok[0]) and not bool(seq_ok[1:].any()), seq_ok
    lm = losses.lm_loss(out["logits"], labels)
    qh = losses.bce_with_logits_sum(out["q_halt_logits"], seq_ok.to(torch.float64))
    qc = losses.bce_with_logits_sum(out["q_continue_logits"], q_target)
    loss = lm + 0.5 * (qh + qc)
    grads = torch.autograd.grad(loss, [leaf[n] for n in trainable])

    T: Dict[str, torch.Tensor] = {}
    for name in hrm.parameter_shapes(cfg):
        T[name] = params[name]
    T.update({
        "batch.inputs": inputs, "batch.labels": labels, "batch.puzzle_identifiers": ids,
        "batch.q_continue_target": q_target,
        "carry.z_H": z_H0, "carry.z_L": z_L0,
        "debug.input_embeddings": out["input_embeddings"],
        "debug.z_H_nograd": out["z_H_nograd"], "debug.z_L_nograd": out["z_L_nograd"],
        "out.logits": out["logits"], "out.q_halt_logits": out["q_halt_logits"],
        "out.q_continue_logits": out["q_continue_logits"],
        "out.z_H": out["z_H"], "out.z_L": out["z_L"],
        "out.seq_is_correct": seq_ok,
        "out.lm_loss": lm, "out.q_halt_loss": qh, "out.q_continue_loss": qc, "out.loss": loss,
        "out2.logits": out2["logits"], "out2.q_halt_logits": out2["q_halt_logits"],
        "out2.q_continue_logits": out2["q_continue_logits"],
        "out2.z_H": out2["z_H"], "out2.z_L": out2["z_L"],
    })
    for name, g in zip(trainable, grads):
        T[f"grad.{name}"] = g

    config = cfg.to_json_dict()
    config.update(seed=seed, batch_size=batch_size, canvas=[4, 4], ignore_label=losses.IGNORE_LABEL,
                  trainable=trainable, buffers=list(hrm.BUFFER_NAMES))
    if side is not None:
        T["batch.position_ids"] = position_ids
        config.update(canvas=[CROP_WIDTH, CROP_WIDTH], side=side, tokens_per_example=side * side,
                      rows_per_slot=rows,
                      positions="puzzle tokens 0..P-1; grid token t at P + (t // side) * W + t % side")
    context = {"params": params, "inputs": inputs, "labels": labels, "ids": ids, "out": out,
               "grads": dict(zip(trainable, grads)), "q_target": q_target, "loss": loss}
    print(f"  min argmax margin {margins.min():.3e}; seq_is_correct {seq_ok.tolist()}; "
          f"loss {loss.item():.6f}; q_halt {out['q_halt_logits'].tolist()} "
          f"q_cont {out['q_continue_logits'].tolist()}")
    return T, config, context


# ---------------------------------------------------------------------------
# 4. train_step
# ---------------------------------------------------------------------------

TRAIN = {"lr": 1e-4, "puzzle_emb_lr": 1e-2, "beta1": 0.9, "beta2": 0.95,
         "weight_decay": 0.1, "puzzle_emb_weight_decay": 0.1}


def train_one_step(params, cfg: hrm.HRMConfig, carry: hrm.ACTCarry, batch, adam_state: optim.AdamATan2State):
    """One reference `train_batch`: ACT call (training), loss, gradient of loss / global
    batch size, AdamATan2 on the Adam tensors, sparse sign-SGD on the puzzle rows of the
    slots' *current* identifiers. Returns a record dict (new params, carry, outputs, ...)."""
    B = batch["inputs"].shape[0]
    trainable = hrm.trainable_names(cfg)
    leaf = {k: (v.clone().requires_grad_() if k in trainable else v) for k, v in params.items()}
    new_carry, out = hrm.act_step(leaf, cfg, carry, batch, training=True)
    total, parts, metrics = losses.act_loss(out, new_carry.current["labels"], new_carry.halted,
                                            new_carry.steps)
    grads = dict(zip(trainable, torch.autograd.grad(total / B, [leaf[n] for n in trainable])))

    # Discrete decisions must not be near ties (float32 recomputation must agree).
    not_last = new_carry.steps < cfg.halt_max_steps
    gap = (out["q_halt_logits"] - out["q_continue_logits"]).detach().abs()[not_last]
    assert gap.numel() == 0 or gap.min() > 1e-3, f"halt decision too close: {gap}"
    assert top2_margin(out["logits"].detach()).min() > 1e-4

    new_params = dict(params)
    new_params.update(optim.adam_atan2_step({n: params[n] for n in hrm.adam_names(cfg)},
                                            {n: grads[n] for n in hrm.adam_names(cfg)}, adam_state,
                                            TRAIN["lr"], TRAIN["beta1"], TRAIN["beta2"],
                                            TRAIN["weight_decay"]))
    # Sparse sign-SGD in its slot form: per-slot gradients, summed per identifier inside.
    # The table gradient row of an identifier is already the sum over its slots, so each
    # slot gets an equal share (the sum, hence the sign, is unchanged).
    ids = new_carry.current["puzzle_identifiers"].long()
    table_grad = grads[hrm.PUZZLE_EMB_NAME]
    share = torch.bincount(ids, minlength=table_grad.shape[0])[ids].unsqueeze(-1).to(table_grad.dtype)
    new_params[hrm.PUZZLE_EMB_NAME] = optim.sparse_sign_sgd_step(
        params[hrm.PUZZLE_EMB_NAME], ids, table_grad[ids] / share,
        TRAIN["puzzle_emb_lr"], TRAIN["puzzle_emb_weight_decay"])
    direct = params[hrm.PUZZLE_EMB_NAME].clone()
    present = torch.unique(ids)
    direct[present] = (direct[present] * (1 - TRAIN["puzzle_emb_lr"] * TRAIN["puzzle_emb_weight_decay"])
                       - TRAIN["puzzle_emb_lr"] * torch.sign(table_grad[present]))
    assert torch.allclose(direct, new_params[hrm.PUZZLE_EMB_NAME], rtol=0, atol=1e-6 if direct.dtype == torch.float32 else 1e-15)

    new_carry = hrm.ACTCarry(new_carry.z_H.detach(), new_carry.z_L.detach(), new_carry.steps,
                             new_carry.halted, new_carry.current)
    return {"params": new_params, "carry": new_carry, "out": out, "total": total,
            "parts": parts, "metrics": metrics, "grads": grads}


def step_tensors(prefix: str, rec: dict) -> Dict[str, torch.Tensor]:
    out, carry, parts = rec["out"], rec["carry"], rec["parts"]
    T = {
        f"{prefix}act.q_halt_logits": out["q_halt_logits"],
        f"{prefix}act.q_continue_logits": out["q_continue_logits"],
        f"{prefix}act.next_q_halt_logits": out["next_q_halt_logits"],
        f"{prefix}act.next_q_continue_logits": out["next_q_continue_logits"],
        f"{prefix}act.target_q_continue": out["target_q_continue"],
        f"{prefix}act.steps": carry.steps, f"{prefix}act.halted": carry.halted,
        f"{prefix}act.seq_is_correct": parts["seq_is_correct"],
        f"{prefix}loss.total": rec["total"], f"{prefix}loss.lm_loss": parts["lm_loss"],
        f"{prefix}loss.q_halt_loss": parts["q_halt_loss"],
        f"{prefix}loss.q_continue_loss": parts["q_continue_loss"],
    }
    for k, v in rec["metrics"].items():
        T[f"{prefix}metrics.{k}"] = v
    return T


def train_config(cfg: hrm.HRMConfig, batch_size: int, weights: str, steps: int) -> dict:
    config = cfg.to_json_dict()
    config.update(TRAIN)
    config.update(global_batch_size=batch_size, adam_steps=steps, warmup="none (lr used as is)",
                  training=True, start="fresh carry (all slots halted -> reset)",
                  weights=weights, ignore_label=losses.IGNORE_LABEL,
                  adam_tensors=hrm.adam_names(cfg), sign_sgd_tensors=[hrm.PUZZLE_EMB_NAME])
    return config


def report_tiny_gradients(grads: Dict[str, torch.Tensor]) -> None:
    """Adam at t=1 moves by lr*pi/4*sign(g): list elements whose sign is fragile."""
    count = 0
    for g in grads.values():
        scale = g.abs().max()
        count += int(((g != 0) & (g.abs() < 1e-4 * scale)).sum())
    print(f"  gradient elements with 0 < |g| < 1e-4 * max of their tensor: {count}")


def train_step_fixture(cfg: hrm.HRMConfig, ctx: dict):
    params = ctx["params"]
    batch = {"inputs": ctx["inputs"], "labels": ctx["labels"], "puzzle_identifiers": ctx["ids"]}
    B = batch["inputs"].shape[0]
    rec = train_one_step(params, cfg, hrm.act_initial_carry(cfg, batch), batch, optim.AdamATan2State())

    # Cross-checks against model_a: same forward, and the gradient is model_a's / B
    # because model_a's q_continue target is exactly this step's ACT target.
    assert torch.equal(f32(rec["out"]["target_q_continue"]), ctx["q_target"])
    assert torch.equal(rec["out"]["logits"].detach(), ctx["out"]["logits"].detach())
    for n, g in rec["grads"].items():
        # model_a used the F32-rounded target, hence the small absolute slack.
        assert torch.allclose(g, ctx["grads"][n] / B, rtol=1e-6, atol=1e-7), n
    report_tiny_gradients(rec["grads"])

    T: Dict[str, torch.Tensor] = {"batch.inputs": batch["inputs"], "batch.labels": batch["labels"],
                                  "batch.puzzle_identifiers": batch["puzzle_identifiers"]}
    T.update(step_tensors("", rec))
    for n in hrm.trainable_names(cfg):
        T[f"after.{n}"] = rec["params"][n]
    print(f"  train step: loss {rec['total'].item():.6f} halted {rec['carry'].halted.tolist()} "
          f"target {rec['out']['target_q_continue'].tolist()}")
    return T, train_config(cfg, B, "model_a.safetensors", 1)


def second_batch():
    pairs = [
        ([[5, 5], [5, 0]], [[0, 5], [5, 5]], (2, 1), 2),
        ([[3, 1, 4, 1]], [[1, 4, 1, 3]], (0, 0), 3),
        ([[2], [7], [1]], [[7], [2], [1]], (0, 2), 1),
    ]
    inputs = torch.stack([hrm.encode_grid(p[0], 4, *p[2]) for p in pairs])
    labels = torch.stack([hrm.encode_grid(p[1], 4, *p[2]) for p in pairs])
    ids = torch.tensor([p[3] for p in pairs], dtype=torch.int64)
    return {"inputs": inputs, "labels": labels, "puzzle_identifiers": ids}


def two_steps_fixture(cfg: hrm.HRMConfig, ctx: dict):
    """Two consecutive training calls from model_b's weights: batch1 then batch2. After
    call 1 some slots halt (they are reset and take batch2's example in call 2), the others
    keep their carry and example and reach halt_max_steps (the is_last_step target branch).
    AdamATan2 reaches t = 2."""
    params = ctx["params"]
    batch1 = {"inputs": ctx["inputs"], "labels": ctx["labels"], "puzzle_identifiers": ctx["ids"]}
    batch2 = second_batch()
    B = batch1["inputs"].shape[0]
    state = optim.AdamATan2State()
    rec1 = train_one_step(params, cfg, hrm.act_initial_carry(cfg, batch1), batch1, state)
    halted1 = rec1["carry"].halted
    assert bool(halted1.any()) and not bool(halted1.all()), f"want a mix of halted slots: {halted1}"
    rec2 = train_one_step(rec1["params"], cfg, rec1["carry"], batch2, state)
    report_tiny_gradients(rec1["grads"])

    T: Dict[str, torch.Tensor] = {}
    for name, b in (("batch1", batch1), ("batch2", batch2)):
        for k, v in b.items():
            T[f"{name}.{k}"] = v
    T.update(step_tensors("step1.", rec1))
    T.update(step_tensors("step2.", rec2))
    for k, v in rec2["carry"].current.items():
        T[f"step2.current.{k}"] = v
    for n in hrm.trainable_names(cfg):
        T[f"after2.{n}"] = rec2["params"][n]
    print(f"  two steps: halted after 1 {halted1.tolist()}, after 2 {rec2['carry'].halted.tolist()}, "
          f"steps {rec2['carry'].steps.tolist()}, losses {rec1['total'].item():.6f} {rec2['total'].item():.6f}")
    config = train_config(cfg, B, "model_b.safetensors", 2)
    return T, config


def main() -> None:
    parser = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--out", default=os.path.join(here, "..", "..", "Tests", "Fixtures"))
    args = parser.parse_args()
    out_dir = os.path.normpath(args.out)
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)  # nothing should use the global generator; fixed anyway

    make_kernels(os.path.join(out_dir, "kernels.safetensors"))

    cfg_a = hrm.HRMConfig(hidden_size=32, num_heads=2, expansion=4.0, H_layers=1, L_layers=1,
                          H_cycles=2, L_cycles=2, seq_len=16, puzzle_emb_ndim=32,
                          num_puzzle_identifiers=5, halt_max_steps=2, halt_exploration_prob=0.0)
    T, config, ctx_a = model_fixture(cfg_a, MODEL_A_SEED, batch_size=3)
    save(os.path.join(out_dir, "model_a.safetensors"), T, config)

    # D = 8 (not 32) to keep all fixtures under 1 MB: the SwiGLU width rounds up to 256.
    cfg_b = hrm.HRMConfig(hidden_size=8, num_heads=2, expansion=4.0, H_layers=1, L_layers=1,
                          H_cycles=2, L_cycles=2, seq_len=16, puzzle_emb_ndim=16,
                          num_puzzle_identifiers=5, halt_max_steps=2, halt_exploration_prob=0.0)
    T, config, ctx_b = model_fixture(cfg_b, MODEL_B_SEED, batch_size=3, puzzle_ids=[4, 2, 4],
                                     q_bias=MODEL_B_Q_BIAS)
    save(os.path.join(out_dir, "model_b.safetensors"), T, config)

    T, config = train_step_fixture(cfg_a, ctx_a)
    save(os.path.join(out_dir, "train_step.safetensors"), T, config)

    T, config = two_steps_fixture(cfg_b, ctx_b)
    save(os.path.join(out_dir, "train_two_steps.safetensors"), T, config)

    # A size-bucketed step: the top-left 3x3 of a 5x5 canvas (9 tokens at canvas positions), P = 2.
    cfg_c = hrm.HRMConfig(hidden_size=8, num_heads=2, expansion=4.0, H_layers=1, L_layers=1,
                          H_cycles=2, L_cycles=2, seq_len=CROP_WIDTH * CROP_WIDTH, puzzle_emb_ndim=16,
                          num_puzzle_identifiers=5, halt_max_steps=2, halt_exploration_prob=0.0)
    # side = W is the full sequence: the same positions as without position ids.
    assert torch.equal(hrm.crop_position_ids(cfg_c, CROP_WIDTH), torch.arange(cfg_c.total_len))
    T, config, _ = model_fixture(cfg_c, MODEL_CROP_SEED, batch_size=2, side=CROP_SIDE)
    save(os.path.join(out_dir, "model_crop.safetensors"), T, config)

    total = sum(os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir)
                if f.endswith(".safetensors"))
    print(f"total fixture size: {total} bytes")


if __name__ == "__main__":
    main()

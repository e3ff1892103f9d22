"""Generate the TRM golden fixture Tests/Fixtures/trm_tiny.safetensors (docs/SPEC.md §9;
keys in Tests/Fixtures/README.md, "trm_tiny").

    python3 Tools/reference/make_trm_fixtures.py [--out Tests/Fixtures]

A tiny TRM (D 8, 2 heads, 2 layers, H_cycles 2, L_cycles 3, a 3x3 canvas so seq_len 9,
puzzle_emb_ndim 12 with puzzle_emb_len 3: the 12 values fill token 0 and half of token 1, the
rest is zeros), batch 2. Slot 0 starts from the reset carry (H_init, L_init), slot 1 from a
random carry. The scalar differentiated is a fixed linear function of the outputs,
    loss = sum(logits * loss.logit_weights) + sum(q * loss.q_weights)   (q = [q_halt, q_continue]),
so d loss / d logits and d loss / d q are those weights, and the gradients of every trainable
tensor and of the puzzle table are stored. A second inner step without gradient from the new
carry (out2.*) checks that a later step leaves what backward needs untouched.

Deterministic (one torch.Generator with a fixed seed; every stored input rounded to float32
before the float64 computation). Needs only torch and numpy: the safetensors file is written and
read back by the small functions below (same byte layout as make_fixtures.py).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import struct
import sys
from typing import Dict

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import hrm_reference as hrm  # noqa: E402
import trm_reference as trm  # noqa: E402

FORMAT = "arc-pipeline-hrm-fixture-v1"
TRM_TINY_SEED = 2027
CANVAS = 3


def f32(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to(torch.float32).to(torch.float64)


def randn(gen, *shape, scale=1.0) -> torch.Tensor:
    return f32(torch.randn(shape, dtype=torch.float64, generator=gen) * scale)


def write_safetensors(path: str, tensors: Dict[str, torch.Tensor], metadata: Dict[str, str]) -> None:
    """u64 little-endian header length, JSON header ({"__metadata__": ..., name: {dtype, shape,
    data_offsets}}, tensors in name order) padded with spaces to a multiple of 8, then the raw
    little-endian data in the same order; written to a temporary name, then renamed."""
    dtypes = {torch.float32: "F32", torch.int32: "I32"}
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name in sorted(tensors):
        t = tensors[name]
        data = t.contiguous().numpy().tobytes()  # little-endian machines (as make_fixtures.py)
        header[name] = {"dtype": dtypes[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = path + ".partial"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for data in blobs:
            f.write(data)
    os.replace(tmp, path)
    # Read back (format check without the safetensors package).
    with open(path, "rb") as f:
        raw = f.read()
    (length,) = struct.unpack("<Q", raw[:8])
    parsed = json.loads(raw[8:8 + length].decode("utf-8"))
    assert parsed.pop("__metadata__") == metadata and set(parsed) == set(tensors)
    base = 8 + length
    for name, info in parsed.items():
        begin, end = info["data_offsets"]
        kind = {"F32": np.float32, "I32": np.int32}[info["dtype"]]
        back = np.frombuffer(raw[base + begin:base + end], dtype=np.dtype(kind).newbyteorder("<"))
        assert np.array_equal(back.reshape(info["shape"]), tensors[name].numpy()), name


def save(path: str, tensors: Dict[str, torch.Tensor], config: dict) -> None:
    out = {}
    for name, t in tensors.items():
        t = t.detach()
        t = t.to(torch.int32) if t.dtype in (torch.bool, torch.int64, torch.int32) else t.to(torch.float32)
        out[name] = (t.reshape(1) if t.ndim == 0 else t).contiguous()
    write_safetensors(path, out, {"format": FORMAT, "config": json.dumps(config, sort_keys=True)})
    print(f"wrote {path}: {len(out)} tensors, {os.path.getsize(path)} bytes")


def fixture_params(cfg: trm.TRMConfig, gen: torch.Generator) -> Dict[str, torch.Tensor]:
    """The spec's initialisation, but the puzzle table and q_head get random values (so their
    gradients are not zero and the q logits depend on the state)."""
    params = trm.init_params(cfg, gen)
    D = cfg.hidden_size
    params[trm.PUZZLE_EMB_NAME] = hrm.truncated_normal(params[trm.PUZZLE_EMB_NAME].shape, 0.5, gen)
    params["model.inner.q_head.weight"] = hrm.truncated_normal((2, D), 1.0 / math.sqrt(D), gen)
    params["model.inner.q_head.bias"] = torch.tensor([0.3, -0.2], dtype=torch.float64)
    return {k: f32(v) for k, v in params.items()}


def directional_check(params, cfg, trainable, z_H, z_L, inputs, ids, logit_w, q_w, grads, gen) -> float:
    """Finite difference of the last cycle + loss along one random direction of all trainable
    tensors, against sum(grad * direction): an independent check of autograd's gradient."""
    direction = {n: torch.randn(params[n].shape, dtype=torch.float64, generator=gen) for n in trainable}

    def loss_at(h: float) -> float:
        moved = {k: (v + h * direction[k] if k in direction else v) for k, v in params.items()}
        x = hrm.input_embeddings(moved, cfg, inputs, ids)
        cos, sin = hrm.rope_cos_sin(cfg.total_len, cfg.head_dim, cfg.rope_theta)
        out = trm.last_cycle(moved, cfg, z_H, z_L, x, cos, sin)
        q = torch.stack([out["q_halt_logits"], out["q_continue_logits"]], dim=-1)
        return float((out["logits"] * logit_w).sum() + (q * q_w).sum())

    h = 1e-6
    numeric = (loss_at(h) - loss_at(-h)) / (2 * h)
    analytic = float(sum((grads[n] * direction[n]).sum() for n in trainable))
    relative = abs(numeric - analytic) / max(abs(analytic), 1e-12)
    print(f"  directional derivative: analytic {analytic:.10e} numeric {numeric:.10e} relative diff {relative:.2e}")
    assert relative < 1e-6, relative
    return relative


def make_trm_tiny(path: str) -> None:
    cfg = trm.TRMConfig()
    cfg.check()
    gen = torch.Generator().manual_seed(TRM_TINY_SEED)
    params = fixture_params(cfg, gen)
    B, S, D, P = 2, cfg.total_len, cfg.hidden_size, cfg.puzzle_emb_len

    pairs = [([[1, 2], [3, 4]], (0, 0)), ([[5, 0, 9]], (1, 0))]
    inputs = torch.stack([hrm.encode_grid(g, CANVAS, *offset) for g, offset in pairs])
    ids = torch.tensor([3, 1], dtype=torch.int64)

    z_H0, z_L0 = hrm.initial_carry(params, cfg, B)
    z_H0[1] = randn(gen, S, D)
    z_L0[1] = randn(gen, S, D)

    trainable = trm.trainable_names(cfg)
    leaf = {k: (v.clone().requires_grad_() if k in trainable else v) for k, v in params.items()}
    out = trm.inner_step(leaf, cfg, z_H0, z_L0, inputs, ids)

    logit_w = randn(gen, *out["logits"].shape)
    q_w = randn(gen, B, 2)
    q = torch.stack([out["q_halt_logits"], out["q_continue_logits"]], dim=-1)
    loss = (out["logits"] * logit_w).sum() + (q * q_w).sum()
    grads = dict(zip(trainable, torch.autograd.grad(loss, [leaf[n] for n in trainable])))

    # The gradient of the whole step equals that of the last cycle alone from the carry the
    # cycles without gradient left (nothing flows into them), and agrees with finite differences.
    directional_check(params, cfg, trainable, out["z_H_nograd"], out["z_L_nograd"], inputs, ids,
                      logit_w, q_w, grads, gen)
    for n in trainable:
        assert grads[n].abs().max() > 0, f"zero gradient for {n}"
    # Rows of the puzzle table outside the batch get nothing; padded puzzle values are not parameters.
    assert grads[trm.PUZZLE_EMB_NAME][[0, 2]].abs().max() == 0

    out2 = trm.inner_step(params, cfg, out["z_H"], out["z_L"], inputs, ids)

    T: Dict[str, torch.Tensor] = {}
    for name in trm.parameter_shapes(cfg):
        T[name] = params[name]
    T.update({
        "batch.inputs": inputs, "batch.puzzle_identifiers": ids,
        "carry.z_H": z_H0, "carry.z_L": z_L0,
        "loss.logit_weights": logit_w, "loss.q_weights": q_w, "out.loss": loss,
        "debug.input_embeddings": out["input_embeddings"],
        "debug.z_H_nograd": out["z_H_nograd"], "debug.z_L_nograd": out["z_L_nograd"],
        "out.logits": out["logits"], "out.q_halt_logits": out["q_halt_logits"],
        "out.q_continue_logits": out["q_continue_logits"],
        "out.z_H": out["z_H"], "out.z_L": out["z_L"],
        "out2.logits": out2["logits"], "out2.q_halt_logits": out2["q_halt_logits"],
        "out2.q_continue_logits": out2["q_continue_logits"],
        "out2.z_H": out2["z_H"], "out2.z_L": out2["z_L"],
    })
    for name, g in grads.items():
        T[f"grad.{name}"] = g

    config = cfg.to_json_dict()
    config.update(seed=TRM_TINY_SEED, batch_size=B, canvas=[CANVAS, CANVAS], trainable=trainable,
                  buffers=list(trm.BUFFER_NAMES),
                  loss="sum(logits * loss.logit_weights) + sum([q_halt, q_continue] * loss.q_weights)",
                  carry="slot 0 reset (H_init, L_init), slot 1 random")
    print(f"  loss {loss.item():.6f}; q_halt {out['q_halt_logits'].tolist()} q_cont {out['q_continue_logits'].tolist()}")
    save(path, T, config)


def main() -> None:
    parser = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--out", default=os.path.join(here, "..", "..", "Tests", "Fixtures"))
    args = parser.parse_args()
    out_dir = os.path.normpath(args.out)
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)  # nothing should use the global generator; fixed anyway
    make_trm_tiny(os.path.join(out_dir, "trm_tiny.safetensors"))


if __name__ == "__main__":
    main()

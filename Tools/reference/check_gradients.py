"""Self-checks of the reference implementation, in float64:

1. torch.autograd.gradcheck (finite differences vs autograd) for every kernel;
2. the kernels against PyTorch's own implementations where one exists;
3. gradcheck of the tiny model: one whole inner step (H_cycles = L_cycles = 1, so
   nothing runs under no_grad) and the differentiated part of an inner step with
   H_cycles = L_cycles = 2 (the no-grad carry held fixed), through the full loss;
4. the stored fixtures reload and agree with a recomputation from their own F32 values.

    python3 Tools/reference/check_gradients.py     # exits non-zero on any failure
"""

from __future__ import annotations

import math
import os
import sys

import torch
import torch.nn.functional as F
from torch.autograd import gradcheck
from safetensors import safe_open

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import hrm_reference as hrm  # noqa: E402
import losses  # noqa: E402
import optim  # noqa: E402

FIXTURES = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "Fixtures"))
results = []


def record(name: str, ok: bool, detail: str = "") -> None:
    results.append((name, ok))
    print(f"{'PASS' if ok else 'FAIL'}  {name}  {detail}")


def check(name: str, fn, inputs, **kw) -> None:
    try:
        ok = gradcheck(fn, inputs, eps=1e-6, atol=1e-7, rtol=1e-5, **kw)
    except Exception as error:  # gradcheck raises on mismatch
        ok = False
        print(error)
    record(f"gradcheck {name}", ok, "(fast_mode)" if kw.get("fast_mode") else "")


def close(name: str, a: torch.Tensor, b: torch.Tensor, atol=1e-12, rtol=1e-10) -> None:
    diff = (a - b).abs().max().item()
    record(f"compare {name}", torch.allclose(a, b, atol=atol, rtol=rtol), f"max abs diff {diff:.2e}")


def r(gen, *shape, scale=1.0):
    return (torch.randn(shape, dtype=torch.float64, generator=gen) * scale).requires_grad_()


def kernels() -> None:
    gen = torch.Generator().manual_seed(7)
    check("linear", hrm.linear, (r(gen, 2, 3, 5), r(gen, 4, 5)))
    check("rms_norm", lambda x: hrm.rms_norm(x, 1e-5), (r(gen, 2, 3, 8),))
    cos, sin = hrm.rope_cos_sin(5, 8, 10000.0)
    check("rope", lambda x: hrm.apply_rope(x, cos, sin), (r(gen, 2, 5, 2, 8),))
    # RoPE at explicit positions (a cropped canvas): the rows of the contiguous table at those
    # positions; the contiguous positions give the contiguous table exactly.
    ids = torch.tensor([0, 1, 3, 4, 9, 10, 13])
    cos_p, sin_p = hrm.rope_cos_sin(len(ids), 8, 10000.0, ids)
    cos_f, sin_f = hrm.rope_cos_sin(14, 8, 10000.0)
    close("rope at positions == rows of the contiguous table", torch.cat([cos_p, sin_p]), torch.cat([cos_f[ids], sin_f[ids]]), atol=0, rtol=0)
    cos_a, sin_a = hrm.rope_cos_sin(14, 8, 10000.0, torch.arange(14))
    close("rope at positions 0..n-1 == contiguous", torch.cat([cos_a, sin_a]), torch.cat([cos_f, sin_f]), atol=0, rtol=0)
    check("rope at positions", lambda x: hrm.apply_rope(x, cos_p, sin_p), (r(gen, 2, len(ids), 2, 8),))
    check("attention", hrm.attention, (r(gen, 2, 5, 2, 4), r(gen, 2, 5, 2, 4), r(gen, 2, 5, 2, 4)))
    check("swiglu", hrm.swiglu, (r(gen, 2, 5, 8), r(gen, 12, 8, scale=0.35), r(gen, 8, 6, scale=0.4)))
    cos4, sin4 = hrm.rope_cos_sin(5, 4, 10000.0)
    check("block", lambda x, a, b, c, d: hrm.transformer_block(x, a, b, c, d, 2, cos4, sin4, 1e-5),
          (r(gen, 2, 5, 8), r(gen, 24, 8, scale=0.35), r(gen, 8, 8, scale=0.35),
           r(gen, 12, 8, scale=0.35), r(gen, 8, 6, scale=0.4)))
    tokens = torch.tensor([[0, 1, 2, 2, 5], [11, 0, 0, 3, 2]])
    check("embedding", lambda w: hrm.token_embedding(tokens, w), (r(gen, 12, 8),))
    labels = torch.tensor([[3, 1, 0, 11, 4], [0, 0, 7, 2, 2], [0, 0, 0, 0, 0]])
    check("stablemax lm_loss", lambda x: losses.lm_loss(x, labels), (r(gen, 3, 5, 12, scale=2.0),))
    tgt = torch.tensor([0.0, 1.0, 1.0, 0.0, 0.3, 0.9], dtype=torch.float64)
    check("bce_with_logits", lambda x: losses.bce_with_logits_sum(x, tgt), (r(gen, 6, scale=3.0),))

    # Against PyTorch's implementations
    with torch.no_grad():
        x = r(gen, 2, 3, 8)
        close("rms_norm vs F.rms_norm", hrm.rms_norm(x, 1e-5), F.rms_norm(x, (8,), eps=1e-5))
        q, k, v = r(gen, 2, 5, 2, 4), r(gen, 2, 5, 2, 4), r(gen, 2, 5, 2, 4)
        ref = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        close("attention vs F.scaled_dot_product_attention", hrm.attention(q, k, v),
              ref.transpose(1, 2).reshape(2, 5, 8))
        x = r(gen, 4, 7)
        close("silu vs F.silu", hrm.silu(x), F.silu(x))
        x, y = r(gen, 9, scale=4.0), torch.rand(9, dtype=torch.float64, generator=gen)
        close("bce vs F.binary_cross_entropy_with_logits", losses.bce_with_logits_sum(x, y),
              F.binary_cross_entropy_with_logits(x, y, reduction="sum"))
        # stablemax by its definition, element by element
        x = r(gen, 2, 3, 12, scale=3.0)
        labels = torch.tensor([[1, 0, 5], [11, 2, 0]])
        manual = torch.zeros((), dtype=torch.float64)
        for b in range(2):
            count = max(1, int((labels[b] != 0).sum()))
            for t in range(3):
                if labels[b, t] == 0:
                    continue
                s = [v + 1 if v >= 0 else 1 / (1 - v) for v in x[b, t].tolist()]
                manual = manual - math.log(s[labels[b, t]] / sum(s)) / count
        close("stablemax lm_loss vs scalar loop", losses.lm_loss(x, labels), manual)
        # rope vs complex rotation by pairs (i, i + hd/2)
        x = r(gen, 1, 6, 1, 8)
        cos, sin = hrm.rope_cos_sin(6, 8, 10000.0)
        z = torch.complex(x[..., :4], x[..., 4:])
        angle = torch.arange(6, dtype=torch.float64)[:, None] * 10000.0 ** (-torch.arange(4, dtype=torch.float64) * 2 / 8)
        zr = z * torch.polar(torch.ones_like(angle), angle)[None, :, None, :]
        close("rope vs complex rotation", hrm.apply_rope(x, cos, sin), torch.cat([zr.real, zr.imag], -1))
        # AdamATan2 first step = lr * pi/4 * sign(g) after decay
        p, g = r(gen, 5), r(gen, 5)
        new = optim.adam_atan2_step({"p": p}, {"p": g}, optim.AdamATan2State(), 1e-3)["p"]
        close("adam_atan2 step 1 closed form", new, p * (1 - 1e-4) - 1e-3 * math.pi / 4 * torch.sign(g))
        # truncated normal: std and the cut at +-2 corrected sigma
        t = hrm.truncated_normal((200000,), 0.5, torch.Generator().manual_seed(3))
        corrected = 0.5 * 1.1368472  # 1 / sqrt(variance of N(0,1) truncated to [-2, 2])
        ok = abs(t.std().item() - 0.5) < 0.005 and t.abs().max().item() <= 2 * corrected + 1e-6
        record("truncated_normal std 0.5 (200k samples), |x| <= 2*corrected std", ok,
               f"std {t.std().item():.4f}, max |x| {t.abs().max().item():.4f} (bound {2 * corrected:.4f})")


def model_checks() -> None:
    # (a) whole inner step, H_cycles = L_cycles = 1, 2 H layers + 1 L layer, P = 2 with zero padding.
    cfg = hrm.HRMConfig(hidden_size=8, num_heads=2, expansion=4.0, H_layers=2, L_layers=1,
                        H_cycles=1, L_cycles=1, seq_len=4, puzzle_emb_ndim=12,
                        num_puzzle_identifiers=3, intermediate_size_override=6)
    gen = torch.Generator().manual_seed(11)
    params = hrm.init_params(cfg, gen)
    params[hrm.PUZZLE_EMB_NAME] = hrm.truncated_normal(params[hrm.PUZZLE_EMB_NAME].shape, 0.3, gen)
    params["model.inner.q_head.weight"] = hrm.truncated_normal((2, 8), 0.3, gen)
    params["model.inner.q_head.bias"] = torch.tensor([0.1, -0.1], dtype=torch.float64)
    inputs = torch.tensor([[2, 3, 1, 0], [5, 1, 0, 0]])
    labels = torch.tensor([[4, 4, 1, 0], [2, 1, 0, 0]])
    ids = torch.tensor([1, 1])
    target = torch.tensor([0.3, 0.8], dtype=torch.float64)
    names = hrm.trainable_names(cfg)
    z_H0, z_L0 = hrm.initial_carry(params, cfg, 2)

    def loss_from(out, seq_ok):
        return (losses.lm_loss(out["logits"], labels)
                + 0.5 * (losses.bce_with_logits_sum(out["q_halt_logits"], seq_ok)
                         + losses.bce_with_logits_sum(out["q_continue_logits"], target)))

    with torch.no_grad():
        _, seq_ok, _ = losses.sequence_correctness(
            hrm.inner_step(params, cfg, z_H0, z_L0, inputs, ids)["logits"], labels)
    seq_ok = seq_ok.to(torch.float64)

    def whole(*tensors):
        p = dict(params)
        p.update(zip(names, tensors))
        return loss_from(hrm.inner_step(p, cfg, z_H0, z_L0, inputs, ids), seq_ok)

    check("inner step + loss, H_cycles=L_cycles=1 (all params)", whole,
          tuple(params[n].clone().requires_grad_() for n in names))

    def whole_outputs(*tensors):
        p = dict(params)
        p.update(zip(names, tensors))
        out = hrm.inner_step(p, cfg, z_H0, z_L0, inputs, ids)
        return out["logits"], out["q_halt_logits"], out["q_continue_logits"]

    check("inner step outputs (logits, q) H_cycles=L_cycles=1", whole_outputs,
          tuple(params[n].clone().requires_grad_() for n in names))

    # (a') the same model on a size-bucketed batch: seq_len 9 (a 3x3 canvas), the top-left
    # 2x2 crop, every token at its canvas position.
    cfg_c = hrm.HRMConfig(**{**cfg.__dict__, "seq_len": 9})
    pos_c = hrm.crop_position_ids(cfg_c, 2)
    record("crop positions (P=2, W=3, side 2)", pos_c.tolist() == [0, 1, 2, 3, 5, 6], str(pos_c.tolist()))
    inputs_c = inputs[:, :4]
    labels_c = labels[:, :4]
    zc_H, zc_L = hrm.initial_carry(params, cfg_c, 2, cfg_c.puzzle_emb_len + 4)
    with torch.no_grad():
        _, seq_ok_c, _ = losses.sequence_correctness(
            hrm.inner_step(params, cfg_c, zc_H, zc_L, inputs_c, ids, pos_c)["logits"], labels_c)
    seq_ok_c = seq_ok_c.to(torch.float64)

    def whole_crop(*tensors):
        p = dict(params)
        p.update(zip(names, tensors))
        out = hrm.inner_step(p, cfg_c, zc_H, zc_L, inputs_c, ids, pos_c)
        return (losses.lm_loss(out["logits"], labels_c)
                + 0.5 * (losses.bce_with_logits_sum(out["q_halt_logits"], seq_ok_c)
                         + losses.bce_with_logits_sum(out["q_continue_logits"], target)))

    check("cropped inner step + loss (side 2 of 3x3, canvas positions)", whole_crop,
          tuple(params[n].clone().requires_grad_() for n in names))
    # side = W: the crop is the whole canvas and equals the run without position ids.
    full_ids = hrm.crop_position_ids(cfg_c, 3)
    inputs_f = torch.tensor([[2, 3, 1, 0, 4, 5, 1, 1, 0], [5, 1, 0, 0, 0, 2, 2, 3, 1]])
    zf_H, zf_L = hrm.initial_carry(params, cfg_c, 2)
    with torch.no_grad():
        a = hrm.inner_step(params, cfg_c, zf_H, zf_L, inputs_f, ids)
        b = hrm.inner_step(params, cfg_c, zf_H, zf_L, inputs_f, ids, full_ids)
    close("side = W equals no position ids", torch.cat([a["logits"].flatten(), a["z_H"].flatten()]),
          torch.cat([b["logits"].flatten(), b["z_H"].flatten()]), atol=0, rtol=0)

    # (b) H_cycles = L_cycles = 2: autograd through inner_step must equal the gradient
    # of the differentiated part with the no-grad carry held fixed, and that part must
    # pass gradcheck.
    cfg2 = hrm.HRMConfig(**{**cfg.__dict__, "H_cycles": 2, "L_cycles": 2})
    leaf = {k: (v.clone().requires_grad_() if k in names else v) for k, v in params.items()}
    out = hrm.inner_step(leaf, cfg2, z_H0, z_L0, inputs, ids)
    g_inner = torch.autograd.grad(loss_from(out, seq_ok), [leaf[n] for n in names])
    z_H_ng, z_L_ng = out["z_H_nograd"], out["z_L_nograd"]
    cos, sin = hrm.rope_cos_sin(cfg2.total_len, cfg2.head_dim, cfg2.rope_theta)

    def grad_part(*tensors):
        p = dict(params)
        p.update(zip(names, tensors))
        x = hrm.input_embeddings(p, cfg2, inputs, ids)
        return loss_from(hrm.one_step_grad_part(p, cfg2, z_H_ng, z_L_ng, x, cos, sin), seq_ok)

    check("1-step-grad part + loss, H_cycles=L_cycles=2 (no-grad carry fixed)", grad_part,
          tuple(params[n].clone().requires_grad_() for n in names))
    leaf2 = tuple(params[n].clone().requires_grad_() for n in names)
    g_part = torch.autograd.grad(grad_part(*leaf2), leaf2)
    close("inner_step autograd == grad of 1-step part", torch.cat([g.flatten() for g in g_inner]),
          torch.cat([g.flatten() for g in g_part]))

    # (c) the model_a configuration (spec SwiGLU width 256), fast (directional) gradcheck
    cfg_a = hrm.HRMConfig(hidden_size=32, num_heads=2, H_layers=1, L_layers=1, H_cycles=2, L_cycles=2,
                          seq_len=16, puzzle_emb_ndim=32, num_puzzle_identifiers=5)
    pa = hrm.init_params(cfg_a, torch.Generator().manual_seed(5))
    pa[hrm.PUZZLE_EMB_NAME] = hrm.truncated_normal(pa[hrm.PUZZLE_EMB_NAME].shape, 0.2, gen)
    pa["model.inner.q_head.weight"] = hrm.truncated_normal((2, 32), 0.2, gen)
    inputs_a = torch.randint(0, 12, (2, 16), generator=gen)
    labels_a = torch.randint(0, 12, (2, 16), generator=gen)
    ids_a = torch.tensor([1, 4])
    zH, zL = hrm.initial_carry(pa, cfg_a, 2)
    na = hrm.trainable_names(cfg_a)
    with torch.no_grad():
        o = hrm.inner_step(pa, cfg_a, zH, zL, inputs_a, ids_a)
    cos_a, sin_a = hrm.rope_cos_sin(cfg_a.total_len, cfg_a.head_dim, cfg_a.rope_theta)

    def grad_part_a(*tensors):
        p = dict(pa)
        p.update(zip(na, tensors))
        x = hrm.input_embeddings(p, cfg_a, inputs_a, ids_a)
        out = hrm.one_step_grad_part(p, cfg_a, o["z_H_nograd"], o["z_L_nograd"], x, cos_a, sin_a)
        return (losses.lm_loss(out["logits"], labels_a)
                + 0.5 * (losses.bce_with_logits_sum(out["q_halt_logits"], torch.zeros(2, dtype=torch.float64))
                         + losses.bce_with_logits_sum(out["q_continue_logits"], torch.full((2,), 0.4, dtype=torch.float64))))

    check("model_a-size 1-step part + loss", grad_part_a,
          tuple(pa[n].clone().requires_grad_() for n in na), fast_mode=True)


def fixture_checks() -> None:
    """Recompute the fixtures' outputs from their own stored (F32) values."""
    path = os.path.join(FIXTURES, "model_a.safetensors")
    if not os.path.exists(path):
        record("fixtures present", False, path)
        return
    import json
    for fname in ("model_a.safetensors", "model_b.safetensors", "model_crop.safetensors"):
        with safe_open(os.path.join(FIXTURES, fname), "pt") as f:
            T = {k: f.get_tensor(k) for k in f.keys()}
            c = json.loads(f.metadata()["config"])
        cfg = hrm.HRMConfig(**{k: c[k] for k in hrm.HRMConfig.__dataclass_fields__ if k in c})
        d = {k: v.to(torch.float64) if v.is_floating_point() else v.long() for k, v in T.items()}
        params = {n: d[n] for n in hrm.parameter_shapes(cfg)}
        names = hrm.trainable_names(cfg)
        leaf = {k: (v.clone().requires_grad_() if k in names else v) for k, v in params.items()}
        out = hrm.inner_step(leaf, cfg, d["carry.z_H"], d["carry.z_L"], d["batch.inputs"],
                             d["batch.puzzle_identifiers"], d.get("batch.position_ids"))
        if "side" in c:
            record(f"{fname} position ids", torch.equal(d["batch.position_ids"], hrm.crop_position_ids(cfg, c["side"])))
        _, seq_ok, _ = losses.sequence_correctness(out["logits"].detach(), d["batch.labels"])
        loss = (losses.lm_loss(out["logits"], d["batch.labels"])
                + 0.5 * (losses.bce_with_logits_sum(out["q_halt_logits"], seq_ok.to(torch.float64))
                         + losses.bce_with_logits_sum(out["q_continue_logits"], d["batch.q_continue_target"])))
        grads = torch.autograd.grad(loss, [leaf[n] for n in names])
        close(f"{fname} out.logits", out["logits"].detach(), d["out.logits"], atol=1e-6, rtol=1e-6)
        close(f"{fname} out.z_H", out["z_H"], d["out.z_H"], atol=1e-6, rtol=1e-6)
        close(f"{fname} out.loss", loss.detach().reshape(1), d["out.loss"], atol=1e-6, rtol=1e-6)
        worst = max(((g - d[f"grad.{n}"]).abs().max() / (d[f"grad.{n}"].abs().max() + 1e-30)).item()
                    for n, g in zip(names, grads))
        record(f"{fname} grads recomputed", worst < 1e-5, f"worst max-normalised diff {worst:.2e}")


def load(fname: str):
    import json
    with safe_open(os.path.join(FIXTURES, fname), "pt") as f:
        T = {k: f.get_tensor(k) for k in f.keys()}
        config = json.loads(f.metadata()["config"])
    return T, config


def train_fixture_checks() -> None:
    """train_step: apply the README's recipe in float32 to model_a's stored F32 values and
    gradients; train_two_steps: rerun both calls from model_b's stored values."""
    import make_fixtures as mf
    A, _ = load("model_a.safetensors")
    S, c = load("train_step.safetensors")
    lr, wd, plr, pwd = c["lr"], c["weight_decay"], c["puzzle_emb_lr"], c["puzzle_emb_weight_decay"]
    worst = 0.0
    for key in S:
        if not key.startswith("after."):
            continue
        name = key[len("after."):]
        p, g = A[name], A[f"grad.{name}"] / c["global_batch_size"]
        if name == hrm.PUZZLE_EMB_NAME:
            expected = p.clone()
            for row in torch.unique(A["batch.puzzle_identifiers"]).tolist():
                expected[row] = p[row] * (1 - plr * pwd) - plr * torch.sign(g[row])
        else:
            m, v = (1 - c["beta1"]) * g, (1 - c["beta2"]) * g * g
            expected = p * (1 - lr * wd) - lr * torch.atan2(m / (1 - c["beta1"]), torch.sqrt(v / (1 - c["beta2"])))
        worst = max(worst, (expected - S[key]).abs().max().item())
    record("train_step.safetensors after.* = README recipe on model_a (float32)", worst < 1e-6,
           f"max abs diff {worst:.2e}")

    B, cb = load("model_b.safetensors")
    W, cw = load("train_two_steps.safetensors")
    cfg = hrm.HRMConfig(**{k: cb[k] for k in hrm.HRMConfig.__dataclass_fields__ if k in cb})
    params = {n: B[n].to(torch.float64) for n in hrm.parameter_shapes(cfg)}

    def batch(prefix):
        return {k: W[f"{prefix}.{k}"].long() for k in ("inputs", "labels", "puzzle_identifiers")}

    state = optim.AdamATan2State()
    b1 = batch("batch1")
    rec1 = mf.train_one_step(params, cfg, hrm.act_initial_carry(cfg, b1), b1, state)
    rec2 = mf.train_one_step(rec1["params"], cfg, rec1["carry"], batch("batch2"), state)
    worst = max((rec2["params"][n] - W[f"after2.{n}"].to(torch.float64)).abs().max().item()
                for n in hrm.trainable_names(cfg))
    same = (torch.equal(rec2["carry"].halted.int(), W["step2.act.halted"])
            and torch.equal(rec2["carry"].steps.int(), W["step2.act.steps"])
            and abs(rec2["total"].item() - W["step2.loss.total"].item()) < 1e-5)
    record("train_two_steps.safetensors rerun from model_b", worst < 1e-6 and same,
           f"after2 max abs diff {worst:.2e}")


def float32_agreement() -> None:
    """Run the same reference code in float32 (losses stay float64, as the spec says) on the
    fixtures' inputs: the tolerances a float32 implementation can expect."""
    import make_fixtures as mf
    rope64 = hrm.rope_cos_sin
    hrm.rope_cos_sin = lambda *a: tuple(t.float() for t in rope64(*a))
    try:
        def carry32(cfg, batch):
            c = hrm.act_initial_carry(cfg, batch)
            c.z_H, c.z_L = c.z_H.float(), c.z_L.float()
            return c

        A, c = load("model_a.safetensors")
        cfg = hrm.HRMConfig(**{k: c[k] for k in hrm.HRMConfig.__dataclass_fields__ if k in c})
        P = {n: A[n] for n in hrm.parameter_shapes(cfg)}
        names = hrm.trainable_names(cfg)
        leaf = {k: (v.clone().requires_grad_() if k in names else v) for k, v in P.items()}
        out = hrm.inner_step(leaf, cfg, A["carry.z_H"], A["carry.z_L"], A["batch.inputs"].long(),
                             A["batch.puzzle_identifiers"].long())
        labels = A["batch.labels"].long()
        _, ok, _ = losses.sequence_correctness(out["logits"].detach(), labels)
        loss = losses.lm_loss(out["logits"], labels) + 0.5 * (
            losses.bce_with_logits_sum(out["q_halt_logits"], ok.double())
            + losses.bce_with_logits_sum(out["q_continue_logits"], A["batch.q_continue_target"]))
        grads = torch.autograd.grad(loss, [leaf[n] for n in names])
        d_logits = (out["logits"] - A["out.logits"]).abs().max().item()
        d_grad = max(((g.double() - A[f"grad.{n}"].double()).abs().max() / A[f"grad.{n}"].abs().max()).item()
                     for n, g in zip(names, grads))
        record("float32 run of model_a: logits, gradients", d_logits < 1e-5 and d_grad < 1e-5,
               f"logits max abs diff {d_logits:.2e}, gradients max diff / tensor max {d_grad:.2e}")

        S, _ = load("train_step.safetensors")
        bt = {k: S[f"batch.{k}"].long() for k in ("inputs", "labels", "puzzle_identifiers")}
        r = mf.train_one_step(P, cfg, carry32(cfg, bt), bt, optim.AdamATan2State())
        d = max((r["params"][n].double() - S[f"after.{n}"].double()).abs().max().item() for n in names)
        record("float32 run of train_step: after.*", d < 1e-6, f"max abs diff {d:.2e}")

        B, cb = load("model_b.safetensors")
        W, _ = load("train_two_steps.safetensors")
        cfg = hrm.HRMConfig(**{k: cb[k] for k in hrm.HRMConfig.__dataclass_fields__ if k in cb})
        params = {n: B[n] for n in hrm.parameter_shapes(cfg)}
        state = optim.AdamATan2State()
        batch = lambda p: {k: W[f"{p}.{k}"].long() for k in ("inputs", "labels", "puzzle_identifiers")}
        r1 = mf.train_one_step(params, cfg, carry32(cfg, batch("batch1")), batch("batch1"), state)
        r2 = mf.train_one_step(r1["params"], cfg, r1["carry"], batch("batch2"), state)
        d = max((r2["params"][n].double() - W[f"after2.{n}"].double()).abs().max().item()
                for n in hrm.trainable_names(cfg))
        record("float32 run of train_two_steps: after2.*", d < 1e-6, f"max abs diff {d:.2e}")
    finally:
        hrm.rope_cos_sin = rope64


if __name__ == "__main__":
    torch.manual_seed(0)
    if "--fixtures-only" not in sys.argv:
        kernels()
        model_checks()
    fixture_checks()
    train_fixture_checks()
    float32_agreement()
    failed = [n for n, ok in results if not ok]
    print(f"\n{len(results) - len(failed)}/{len(results)} checks passed")
    sys.exit(1 if failed else 0)

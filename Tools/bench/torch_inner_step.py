"""PyTorch eager timing of the HRM inner step at arc-bench's cpu-bench config, for BENCHMARKS.md.

Same model as Sources/HRM (post-norm blocks, RoPE, SwiGLU, weightless RMSNorm, 1-step gradient),
written the way a PyTorch user would (F.linear, F.scaled_dot_product_attention), fp32, eager.
Usage: python3 Tools/bench/torch_inner_step.py [--threads 2] [--repeats 3] [--batch 8]
"""
import argparse
import math
import resource
import time

import torch
import torch.nn.functional as F


def rms(x, eps=1e-5):
    return x * torch.rsqrt(x.square().mean(-1, keepdim=True) + eps)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def block(h, w, heads, cos, sin):
    b, s, d = h.shape
    hd = d // heads
    qkv = F.linear(h, w["qkv"]).view(b, s, 3 * heads, hd)
    q, k, v = qkv[:, :, :heads], qkv[:, :, heads:2 * heads], qkv[:, :, 2 * heads:]
    q = q * cos + rotate_half(q) * sin
    k = k * cos + rotate_half(k) * sin
    a = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=False)
    a = a.transpose(1, 2).reshape(b, s, d)
    h = rms(h + F.linear(a, w["o"]))
    gate, up = F.linear(h, w["gate_up"]).chunk(2, dim=-1)
    return rms(h + F.linear(F.silu(gate) * up, w["down"]))


def module(z, injection, layers, heads, cos, sin):
    z = z + injection
    for w in layers:
        z = block(z, w, heads, cos, sin)
    return z


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    D, heads, expansion, h_layers, l_layers, h_cycles, l_cycles = 128, 4, 4, 2, 2, 2, 2
    inter = ((round(expansion * D * 2 / 3) + 255) // 256) * 256
    seq_len, P, vocab, B = 900, 1, 12, args.batch
    S = seq_len + P
    hd = D // heads

    def lin(o, i):
        return (torch.randn(o, i) / math.sqrt(i)).requires_grad_()

    def layers(n):
        return [dict(qkv=lin(3 * D, D), o=lin(D, D), gate_up=lin(2 * inter, D), down=lin(D, inter)) for _ in range(n)]

    H, L = layers(h_layers), layers(l_layers)
    embed = (torch.randn(vocab, D) / math.sqrt(D)).requires_grad_()
    puzzle = torch.zeros(65, D, requires_grad=True)
    lm_head, q_w, q_b = lin(vocab, D), (torch.randn(2, D) * 0.02).requires_grad_(), torch.full((2,), -5.0, requires_grad=True)
    inv = 1.0 / (10000 ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
    freqs = torch.outer(torch.arange(S, dtype=torch.float32), inv)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[None, :, None, :], emb.sin()[None, :, None, :]
    inputs = torch.randint(2, 12, (B, seq_len))
    labels = torch.randint(1, 12, (B, seq_len))
    ids = torch.randint(1, 65, (B,))
    zH0, zL0 = torch.randn(D).expand(B, S, D).contiguous(), torch.randn(D).expand(B, S, D).contiguous()

    def inner(zH, zL, grad):
        x = math.sqrt(D) * torch.cat((puzzle[ids].view(B, P, D), embed[inputs]), dim=1)
        with torch.no_grad():
            for h in range(h_cycles):
                for l in range(l_cycles):
                    if not (h == h_cycles - 1 and l == l_cycles - 1):
                        zL = module(zL, zH + x, L, heads, cos, sin)
                if h != h_cycles - 1:
                    zH = module(zH, zL, H, heads, cos, sin)
        with torch.set_grad_enabled(grad):
            zL = module(zL, zH + x, L, heads, cos, sin)
            zH = module(zH, zL, H, heads, cos, sin)
            logits = F.linear(zH, lm_head)[:, P:]
            q = F.linear(zH[:, 0], q_w, q_b)
        return zH.detach(), zL.detach(), logits, q

    def stablemax_loss(logits, labels):
        x = logits.to(torch.float64)
        s = torch.where(x < 0, 1 / (1 - x), x + 1)
        logp = torch.log(s / s.sum(-1, keepdim=True))
        return -logp.gather(-1, labels[..., None]).squeeze(-1).mean(-1).sum()

    def timed(fn):
        fn()  # warm-up
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return min(times), sum(times) / len(times)

    def forward():
        with torch.no_grad():
            inner(zH0, zL0, False)

    def train():
        _, _, logits, q = inner(zH0, zL0, True)
        loss = stablemax_loss(logits, labels) + 0.5 * F.binary_cross_entropy_with_logits(q, torch.zeros_like(q), reduction="sum")
        (loss / B).backward()

    tokens = B * seq_len
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, cpu-bench config D {D} heads {heads} layers {h_layers}/{l_layers} cycles {h_cycles}/{l_cycles} inter {inter} batch {B} seq {seq_len}+{P}")
    f, fm = timed(forward)
    print(f"  forward:          best {f * 1000:.1f} ms/step (mean {fm * 1000:.1f}), {tokens / f:.0f} tokens/s")
    t, tm = timed(train)
    print(f"  forward+backward: best {t * 1000:.1f} ms/step (mean {tm * 1000:.1f}), {tokens / t:.0f} tokens/s")
    print(f"  peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MB")


if __name__ == "__main__":
    main()

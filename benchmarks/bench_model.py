"""Training and inference throughput of FusionModel against the prototype's implementation.

Baseline ("prototype"): the notebook's MultimodalCrossAttentionTransformer rewritten here
from its description: nn.MultiheadAttention with need_weights=True in every self- and
cross-attention layer (weights always materialised and head-averaged), protein position
computed as index // num_categories. Same sizes as ours: hidden 256, 8 heads, 2 self +
2 cross layers, feed-forward 4 x hidden, dropout 0.1, B=16, 100 MRI tokens of width 768,
8 and 64 proteins. Both run in this process, interleaved, same threads and inputs. On CPU ours is also
timed under bf16 autocast (the training option ``cpu_amp``), the prototype in float32 as
it ran.

    .venv/bin/python benchmarks/bench_model.py                  # CPU, ~1-2 minutes
    .venv/bin/python benchmarks/bench_model.py --device cuda    # GPU (bf16 autocast for both)
"""

from __future__ import annotations

from neurofusion.kernels import choose_cpu_kernels  # before numpy/torch load: the steps' kernels

choose_cpu_kernels()  # AVX2 kernels unless NEUROFUSION_CPU_KERNELS=native, as every step

import argparse
import copy
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from neurofusion.runtime import cpu_description
from neurofusion.model import FusionConfig, FusionModel


# ---- the prototype, as the baseline ---------------------------------------------------
class ProtoSelfLayer(nn.Module):
    def __init__(self, d, heads, dropout):
        super().__init__()
        self.attn = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.ff = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Dropout(dropout), nn.Linear(4 * d, d))
        self.n1, self.n2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, pad):
        a, _ = self.attn(x, x, x, key_padding_mask=pad, need_weights=True)
        x = self.n1(x + self.drop(a))
        return self.n2(x + self.drop(self.ff(x)))


class ProtoCross(nn.Module):
    def __init__(self, d, heads, dropout):
        super().__init__()
        self.m2p = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.p2m = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.nm, self.np_ = nn.LayerNorm(d), nn.LayerNorm(d)

    def forward(self, m, p, m_pad, p_pad):
        a, w1 = self.m2p(m, p, p, key_padding_mask=p_pad, need_weights=True)
        b, w2 = self.p2m(p, m, m, key_padding_mask=m_pad, need_weights=True)
        return self.nm(m + a), self.np_(p + b), (w1, w2)


class PrototypeModel(nn.Module):
    def __init__(self, embed_dim, num_proteins, d=256, heads=8, n_self=2, n_cross=2, dropout=0.1, n_cat=8):
        super().__init__()
        self.n_cat = n_cat
        self.mri_proj = nn.Linear(embed_dim, d)
        self.pos = nn.Sequential(nn.Linear(3, 64), nn.GELU(), nn.Linear(64, d))
        self.prot_proj = nn.Linear(3, d)
        self.cat_emb = nn.Embedding(n_cat, d)
        self.pos_emb = nn.Embedding(max(1, num_proteins // n_cat + 1), d)
        self.mri_layers = nn.ModuleList(ProtoSelfLayer(d, heads, dropout) for _ in range(n_self))
        self.prot_layers = nn.ModuleList(ProtoSelfLayer(d, heads, dropout) for _ in range(n_self))
        self.cross = nn.ModuleList(ProtoCross(d, heads, dropout) for _ in range(n_cross))
        self.head = nn.Sequential(nn.Linear(2 * d, d), nn.GELU(), nn.Dropout(dropout), nn.Linear(d, 2))

    def forward(self, mri, coords, m_mask, values, flags, m_unused, p_unused, p_mask):
        k = values.shape[1]
        idx = torch.arange(k, device=values.device)
        m = self.mri_proj(mri) + self.pos(coords / 100.0)
        p = self.prot_proj(torch.cat([values[..., None], flags], -1))
        p = p + self.cat_emb(idx % self.n_cat) + self.pos_emb(idx // self.n_cat)   # the prototype's bug
        for layer in self.mri_layers:
            m = layer(m, ~m_mask)
        for layer in self.prot_layers:
            p = layer(p, ~p_mask)
        for block in self.cross:
            m, p, _ = block(m, p, ~m_mask, ~p_mask)
        mm = (m * m_mask[..., None]).sum(1) / m_mask.sum(1, keepdim=True)
        pp = (p * p_mask[..., None]).sum(1) / p_mask.sum(1, keepdim=True)
        return {"logits": self.head(torch.cat([mm, pp], -1))}


# ---- measurement -----------------------------------------------------------------------
def inputs(batch, patches, width, proteins, device):
    g = torch.Generator().manual_seed(0)
    x = dict(
        mri=torch.randn(batch, patches, width, generator=g),
        mri_coords=torch.randn(batch, patches, 3, generator=g) * 50,
        mri_mask=torch.ones(batch, patches, dtype=torch.bool),
        prot_values=torch.randn(batch, proteins, generator=g),
        prot_flags=torch.zeros(batch, proteins, 2),
        prot_category=torch.arange(proteins) % 8,
        prot_position=torch.arange(proteins) // 8,
        prot_mask=torch.ones(batch, proteins, dtype=torch.bool),
    )
    x["mri_mask"][:, -5:] = False   # a few absent patches, as in real data
    return {k: v.to(device) for k, v in x.items()}


def step_fns(model, x, device, bf16):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    y = torch.zeros(x["mri"].shape[0], dtype=torch.long, device=device)
    amp = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)
    args = [x[k] for k in ("mri", "mri_coords", "mri_mask", "prot_values", "prot_flags",
                           "prot_category", "prot_position", "prot_mask")]

    def train():
        model.train()
        with amp:
            loss = F.cross_entropy(model(*args)["logits"].float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def infer():
        model.eval()
        with torch.inference_mode(), amp:
            model(*args)

    return train, infer


def timed(fn, reps, device):
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / reps


def bench(proteins, args, device):
    x = inputs(args.batch, args.patches, args.width, proteins, device)
    torch.manual_seed(0)
    ours = FusionModel(FusionConfig(embed_dim=args.width, max_position=max(8, proteins))).to(device)
    proto = PrototypeModel(args.width, proteins).to(device)
    n_ours = sum(p.numel() for p in ours.parameters())
    n_proto = sum(p.numel() for p in proto.parameters())
    cuda = device.type == "cuda"
    # the prototype ran in float32 on CPU (bf16 autocast on CUDA); ours is shown both ways
    fns = {"prototype": step_fns(proto, x, device, bf16=cuda), "ours": step_fns(ours, x, device, bf16=cuda)}
    if not cuda:
        fns["ours bf16"] = step_fns(copy.deepcopy(ours), x, device, bf16=True)
    for name, (tr, inf) in fns.items():          # warm-up
        timed(tr, 2, device), timed(inf, 2, device)
    times = {(n, m): [] for n in fns for m in ("train", "infer")}
    for _ in range(args.rounds):                  # interleaved, median of rounds
        for name, (tr, inf) in fns.items():
            times[(name, "train")].append(timed(tr, args.reps, device))
            times[(name, "infer")].append(timed(inf, args.reps, device))
    print(f"\nK={proteins} proteins, B={args.batch}, P={args.patches}, E={args.width}, device={device}, "
          f"threads={torch.get_num_threads()}; params ours {n_ours:,} prototype {n_proto:,}")
    print(f"{'mode':<7}{'model':<12}{'s/batch':>10}{'samples/s':>11}{'vs prototype':>14}")
    for mode in ("train", "infer"):
        base = statistics.median(times[("prototype", mode)])
        for name in fns:
            t = statistics.median(times[(name, mode)])
            print(f"{mode:<7}{name:<12}{t:>10.4f}{args.batch / t:>11.1f}{base / t:>13.2f}x")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--patches", type=int, default=100)
    ap.add_argument("--width", type=int, default=768)
    ap.add_argument("--proteins", type=int, nargs="+", default=[8, 64])
    ap.add_argument("--reps", type=int, default=5, help="steps per timing")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds (median reported)")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    print(f"cpu: {cpu_description()}", flush=True)  # ratios hold for this CPU
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    for k in args.proteins:
        bench(k, args, device)


if __name__ == "__main__":
    main()

"""A MONAI network (ViT or SwinUNETR's Swin encoder) built locally with a user's weights file.

    patches [N, 1, S, S, S]
      -> resample (trilinear) or zero-pad to the network's input   [N, 1, I, I, I]
      -> vit:        MONAI ViT -> CLS token, or mean over tokens     [N, hidden_size]
         swin_unetr: SwinUNETR.swinViT -> last stage, global mean   [N, 16 * feature_size]

Weights come from a local file only (``torch.load(weights_only=True)``), checked key by key
against the network: any missing or unexpected key is an error that lists them.
A file may hold the bare state dict, or wrap it under ``state_dict`` / ``model``; a
``module.`` prefix (DataParallel) is dropped, and ``key_prefix`` selects the encoder inside
a bigger network (``swinViT.`` by default for swin_unetr, so a whole SwinUNETR file works).
For ``vit``, a ``classification_head.*`` in the file is ignored: only the features are used.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import NeurofusionError

NETWORKS = ("vit", "swin_unetr")


@dataclass
class MonaiSpec:
    name: str = "vit"
    img_size: list[int] = field(default_factory=lambda: [96, 96, 96])
    # vit
    patch_size: int = 16
    hidden_size: int = 768
    mlp_dim: int = 3072
    num_layers: int = 12
    num_heads: list[int] | None = None  # vit: [12]; swin_unetr: [3, 6, 12, 24]
    proj_type: str = "conv"
    qkv_bias: bool = False
    pool: str = "auto"  # vit: cls | mean | auto (cls when the weights have a cls_token)
    # swin_unetr
    feature_size: int = 48
    depths: list[int] = field(default_factory=lambda: [2, 2, 2, 2])
    window_size: int = 7
    use_v2: bool = False
    # both
    resize: str = "resample"  # resample | pad
    key_prefix: str | None = None

    @property
    def width(self) -> int:
        return self.hidden_size if self.name == "vit" else 16 * self.feature_size


def parse_monai_options(options: dict) -> MonaiSpec:
    """Turn ``{key: text or value}`` (CLI flags or config) into a checked :class:`MonaiSpec`.

    List values may arrive as ``[96, 96, 96]``, ``96,96,96`` or a single ``96``.
    """
    spec = MonaiSpec()
    known = {f.name: f for f in fields(MonaiSpec)}
    for key, raw in options.items():
        if raw is None:
            continue
        if key not in known:
            raise NeurofusionError(f"unknown MONAI encoder option {key!r}",
                                   fix=f"use one of {', '.join(sorted(known))}")
        default = getattr(spec, key)
        if key == "num_heads":
            default = []
        try:
            value = _coerce(raw, default, key)
        except ValueError:
            raise NeurofusionError(f"MONAI encoder option {key}={raw!r} is not valid",
                                   fix=f"give a value like {default!r}")
        setattr(spec, key, value)
    if spec.name not in NETWORKS:
        raise NeurofusionError(f"MONAI network {spec.name!r} is not supported", fix="use vit or swin_unetr")
    if len(spec.img_size) == 1:
        spec.img_size = spec.img_size * 3
    if spec.resize not in ("resample", "pad"):
        raise NeurofusionError(f"MONAI resize {spec.resize!r} is not valid", fix="use resample or pad")
    if spec.pool not in ("auto", "cls", "mean"):
        raise NeurofusionError(f"MONAI pool {spec.pool!r} is not valid", fix="use cls, mean or auto")
    if spec.num_heads is None:
        spec.num_heads = [12] if spec.name == "vit" else [3, 6, 12, 24]
    if spec.name == "swin_unetr" and any(s % 32 for s in spec.img_size):
        raise NeurofusionError(f"swin_unetr input size {spec.img_size} is not divisible by 32",
                               fix="set img_size to a multiple of 32, e.g. 96")
    return spec


def _coerce(raw, default, key):
    text = " ".join(str(r) for r in raw) if isinstance(raw, (list, tuple)) else str(raw)
    text = text.strip()
    if isinstance(default, bool):
        word = text.strip("'\"").lower()
        if word not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(key)
        return word in ("true", "1", "yes")
    if isinstance(default, list):
        items = re.findall(r"-?\d+", text)
        if not items:
            raise ValueError(key)
        return [int(i) for i in items]
    if isinstance(default, int):
        return int(text.strip("'\"[], "))
    return text.strip("'\"")


class MonaiEncoder(nn.Module):
    """patches [N, 1, D, H, W] -> pooled MONAI features [N, width]."""

    def __init__(self, spec: MonaiSpec, backbone: nn.Module, pool: str):
        super().__init__()
        self.spec = spec
        self.backbone = backbone
        self.pool = pool
        self.name = f"monai:{spec.name}"
        self.width = spec.width

    def fit_input(self, x: torch.Tensor) -> torch.Tensor:
        size = tuple(self.spec.img_size)
        if tuple(x.shape[2:]) == size:
            return x
        if self.spec.resize == "resample":
            return F.interpolate(x, size=size, mode="trilinear", align_corners=False)  # [N, 1, I, I, I]
        pads = []
        for have, want in zip(reversed(x.shape[2:]), reversed(size)):
            if have > want:
                raise NeurofusionError(f"patch side {have} is larger than the MONAI input {want}",
                                       fix="use resize: resample or a larger img_size")
            pads += [(want - have) // 2, want - have - (want - have) // 2]
        return F.pad(x, pads)  # [N, 1, I, I, I], zeros = outside the brain

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.fit_input(x)
        if self.spec.name == "vit":
            tokens, _ = self.backbone(x)  # cls: [N, hidden] (head = identity); mean: [N, T, hidden]
            return tokens if self.pool == "cls" else tokens.mean(dim=1)
        stages = self.backbone(x, True)  # 5 stages; last [N, 16*fs, I/32, I/32, I/32]
        return stages[-1].mean(dim=(2, 3, 4))  # [N, 16*fs]


def _build_backbone(spec: MonaiSpec, pool: str) -> nn.Module:
    from monai.networks.nets import SwinUNETR, ViT

    if spec.name == "vit":
        if len(spec.num_heads) != 1:
            raise NeurofusionError(f"vit num_heads must be one number, got {spec.num_heads}", fix="e.g. num_heads: 12")
        net = ViT(in_channels=1, img_size=spec.img_size, patch_size=spec.patch_size, hidden_size=spec.hidden_size,
                  mlp_dim=spec.mlp_dim, num_layers=spec.num_layers, num_heads=spec.num_heads[0],
                  proj_type=spec.proj_type, classification=(pool == "cls"), qkv_bias=spec.qkv_bias)
        if pool == "cls":
            net.classification_head = nn.Identity()  # forward then returns the normed CLS token
        return net
    net = SwinUNETR(in_channels=1, out_channels=1, feature_size=spec.feature_size, depths=spec.depths,
                    num_heads=spec.num_heads, window_size=spec.window_size, use_v2=spec.use_v2)
    return net.swinViT


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The tensors of a weights file, unwrapped from ``state_dict``/``model`` and ``module.``."""
    fix = "point embedding.encoder.monai.weights at a state dict saved with torch.save"
    if not os.path.isfile(path):
        raise NeurofusionError("MONAI weights file not found", path=path, fix=fix)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise NeurofusionError(f"cannot read the weights ({type(exc).__name__}: {first})", path=path, fix=fix)
    for wrapper in ("state_dict", "model", "net"):
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise NeurofusionError("file holds no state dict of tensors", path=path, fix=fix)
    if obj and all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return obj


def _select_prefix(state: dict, spec: MonaiSpec) -> dict:
    prefix = spec.key_prefix if spec.key_prefix is not None else ("swinViT." if spec.name == "swin_unetr" else "")
    if prefix and any(k.startswith(prefix) for k in state):
        state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    elif prefix and spec.key_prefix is not None:
        raise NeurofusionError(f"no weight name starts with key_prefix {prefix!r}",
                               fix="check the prefix (e.g. swinViT., encoder., backbone.) or leave it unset")
    if spec.name == "vit":
        state = {k: v for k, v in state.items() if not k.startswith("classification_head.")}
    return state


def _list_keys(keys: list[str], limit: int = 8) -> str:
    keys = sorted(keys)
    return ", ".join(keys[:limit]) + (f" ... (+{len(keys) - limit} more)" if len(keys) > limit else "")


def load_monai_encoder(path: str | os.PathLike, spec: MonaiSpec) -> MonaiEncoder:
    """Build the network of ``spec`` and load ``path`` into it with a strict key check."""
    state = _select_prefix(read_state_dict(path), spec)
    pool = spec.pool
    if spec.name == "vit" and pool == "auto":
        pool = "cls" if "cls_token" in state else "mean"
    backbone = _build_backbone(spec, pool)
    expected = backbone.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        raise NeurofusionError(
            f"weights do not match MONAI {spec.name} ({spec.width}-d): missing keys [{_list_keys(missing)}]; "
            f"unexpected keys [{_list_keys(unexpected)}]", path=path,
            fix="set embedding.encoder.monai options (img_size, patch_size, hidden_size, num_layers, feature_size, "
                "key_prefix ...) to those the weights were trained with")
    wrong = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
             if tuple(state[k].shape) != tuple(v.shape)]
    if wrong:
        raise NeurofusionError(f"weight shapes do not match MONAI {spec.name}: {_list_keys(wrong, 4)}", path=path,
                               fix="set img_size / patch_size / hidden_size to those the weights were trained with")
    backbone.load_state_dict(state, strict=True)
    return MonaiEncoder(spec, backbone, pool).eval()

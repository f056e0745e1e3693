"""Patch embeddings: encoders (builtin self-supervised CNN, intensity baseline, a user's
TorchScript or MONAI weights), self-supervised pretraining, batched inference and the
Parquet shard store. Submodules import torch/MONAI themselves; this package stays light."""

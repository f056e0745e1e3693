"""The cross-attention fusion model (and its single-modality ablations)."""

from .config import VARIANTS, FusionConfig
from .transformer import FusionModel

__all__ = ["VARIANTS", "FusionConfig", "FusionModel"]


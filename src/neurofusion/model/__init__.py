"""The cross-attention fusion model (and its single-modality ablations)."""

from .config import VARIANTS, FusionConfig
from .ensemble import FusionEnsemble, build_model, members_of
from .transformer import FusionModel

__all__ = ["VARIANTS", "FusionConfig", "FusionEnsemble", "FusionModel", "build_model", "members_of"]


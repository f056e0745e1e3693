"""Training per variant x fold, the checkpoint, and inference from a checkpoint."""

from .checkpoint import load_checkpoint
from .predict import InferenceResult, run_inference
from .settings import TrainConfig, load_settings
from .train import train_fold

__all__ = ["InferenceResult", "TrainConfig", "load_checkpoint", "load_settings", "run_inference", "train_fold"]

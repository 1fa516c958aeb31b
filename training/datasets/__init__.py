"""Dataset loaders: SASE-FE (genuine vs fake), RECOLA / AV+EC (valence); the synthetic sets use the same ones."""
from training.datasets.recola import Recording, load_recola, read_annotation
from training.datasets.sasefe import CODE_TO_CLASS, CODES, ExpressionClip, load_sasefe
from training.datasets.video import ClipFrames, DatasetError

__all__ = [
    "CODES", "CODE_TO_CLASS", "ClipFrames", "DatasetError", "ExpressionClip", "Recording",
    "load_recola", "load_sasefe", "read_annotation",
]

"""Synthetic expression videos from real face photographs (see DESIGN.md §8).

Real photos (and identities derived from them: face shape, colouring, mirroring) are animated by
moving their 68 landmarks along FACS action-unit trajectories and warping the image piecewise-
affinely, with head motion, blinks, lighting drift, sensor noise and lossy compression. Genuine and
fake expressions follow the literature's cues; valence follows the AUs. Everything it writes is
synthetic and is reported as such, never as accuracy on people.
"""
from training.synth.layouts import LAYOUTS, SynthConfig, add_arguments, generate, load_truth, run

__all__ = ["LAYOUTS", "SynthConfig", "add_arguments", "generate", "load_truth", "run"]

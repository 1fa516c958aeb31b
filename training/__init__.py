"""Datasets, preprocessing, training loops, metrics and the synthetic expression-video generator."""

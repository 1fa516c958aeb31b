"""Model workers, one per model and named like it: ``sta`` (valence from the crop buffer) and
``lstmpb`` (genuine vs fake from the landmark stream), on the shared ``base``; ``registry``
builds the workers a bundle has models for."""

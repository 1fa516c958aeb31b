"""affectscope models, inference backends and model bundles. Imports nothing else of affectscope."""

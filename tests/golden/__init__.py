"""Golden compiled artefacts of ``feature_configs/``: see ``regenerate.py``."""

"""feature_platform: config-as-code user-sequence features, one compiled definition for every runtime."""

__version__ = "0.1.0"

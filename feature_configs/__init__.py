"""Example config repo: user-sequence features of a pin-engagement product.

Each module holds one kind of config; ``_shared`` holds the helpers the team reuses. The compiler
discovers every config object by importing these modules (`feature-platform compile`).
"""

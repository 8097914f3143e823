"""The `feature-platform` command line."""

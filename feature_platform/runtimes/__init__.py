"""Runtimes that execute compiled artefacts: batch (and later streaming and serving).

They load artefacts from the artefact store and never import the authoring API or the configs.
"""

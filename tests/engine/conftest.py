"""Fixtures of the engine tests (defined in `support`)."""

from tests.engine.support import _isolated, fresh, mesh_factory

__all__ = ["_isolated", "fresh", "mesh_factory"]

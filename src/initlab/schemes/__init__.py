"""Schemes: fans, gains, the Distribution/Initializer spec, the registry and the sampling engine."""

from .fans import Fans, compute_fans
from .gains import calculate_gain, moment_gain
from .registry import get, list_schemes
from .spec import Distribution, Initializer

__all__ = ["Fans", "compute_fans", "calculate_gain", "moment_gain", "get", "list_schemes", "Distribution",
           "Initializer"]

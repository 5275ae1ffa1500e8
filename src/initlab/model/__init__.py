"""Whole-model initialization: plan() decides per parameter, initialize() applies."""

from .activations import Activation, find_activations
from .plan import InitPlan, PlanRow, apply_plan, initialize, plan

__all__ = ["Activation", "find_activations", "InitPlan", "PlanRow", "apply_plan", "initialize", "plan"]

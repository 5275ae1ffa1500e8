"""Whole-model initialization: plan() decides per parameter, initialize() applies, all or nothing."""

from .activations import Activation, find_activations
from .apply import apply_plan, initialize
from .plan import InitPlan, PlanRow, plan

__all__ = ["Activation", "find_activations", "InitPlan", "PlanRow", "apply_plan", "initialize", "plan"]

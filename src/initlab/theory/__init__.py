"""Mean-field theory of signal propagation in deep fully connected networks.

Poole et al. 2016, "Exponential expressivity in deep neural networks through transient chaos";
Schoenholz et al. 2017, "Deep Information Propagation". The variance map, its fixed point, χ₁,
the correlation map, the depth scales ξ_q and ξ_c, the edge of chaos, the phase diagram, and
layer-by-layer predictions for a chain of layers or for an actual ``nn.Sequential``; the residual
stream's variance block by block (Yang & Schoenholz 2017), for a recursion or an actual residual model.
"""

from .meanfield import (CriticalPoint, Prediction, chi1, correlation_map, critical_point, critical_sigma_w,
                        depth_scales, fixed_point, phase_diagram, predict, variance_map)
from .model import predict_model
from .residual import GraphPrediction, ResidualPrediction, predict_graph, predict_residual

__all__ = ["variance_map", "fixed_point", "chi1", "correlation_map", "depth_scales", "critical_sigma_w",
           "critical_point", "CriticalPoint",
           "predict", "Prediction", "predict_model", "phase_diagram", "predict_residual", "ResidualPrediction",
           "predict_graph", "GraphPrediction"]

"""Simulated 跨省通办 traffic: case timelines and ratings with ground truth, pure and deterministic.

Feeds `hcp simulate` (publishing to Kafka or writing JSONL) and the tests and evaluation of
tracing; the same seed always gives the same event stream.
"""

from haochaping.simulation.config import DEFAULT_PROVINCES, DEFAULT_START, SimulationConfig
from haochaping.simulation.engine import Simulator
from haochaping.simulation.incidents import Incident, parse_incident
from haochaping.simulation.model import GroundTruth, SimulatedEvent

__all__ = [
    "DEFAULT_PROVINCES",
    "DEFAULT_START",
    "GroundTruth",
    "Incident",
    "SimulatedEvent",
    "SimulationConfig",
    "Simulator",
    "parse_incident",
]

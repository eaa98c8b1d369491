"""Spike detection: a step's complaint rate rising in one province, told to the office responsible.

Pure and deterministic: the stream worker and `hcp backtest` run the same SpikeDetector over
the step observations that tracing produces.
"""

from haochaping.alerts.config import DetectorConfig
from haochaping.alerts.detector import SpikeDetector
from haochaping.alerts.model import Alert, ReasonShare, ResponsibleOrg

__all__ = ["Alert", "DetectorConfig", "ReasonShare", "ResponsibleOrg", "SpikeDetector"]

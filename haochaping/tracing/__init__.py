"""Tracing: a negative rating → the step, reason and organisation it is about (DESIGN.md section 3).

Pure and deterministic; `trace` is the entry point the worker and the batch command call.
"""

from haochaping.tracing.attribution import Attribution, Candidate, Responsible
from haochaping.tracing.engine import trace
from haochaping.tracing.reading import prepare

__all__ = ["Attribution", "Candidate", "Responsible", "prepare", "trace"]

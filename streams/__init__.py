"""Streaming side: the Faust app and its agents, thin glue around the core.

Agents take batches from Kafka, hand them to haochaping.ingest, write through
sinks/, and only then acknowledge the offsets.
"""

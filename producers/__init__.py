"""Publishing side: what portals and office systems use to put events on Kafka.

The only package that uses kafka-python; validation comes from the core.
"""

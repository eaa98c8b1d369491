"""haochaping core: the pure domain of 好差评 tracing (models, validation, catalog, tracing).

Nothing in this package imports faust, kafka or clickhouse_connect; the adapters in
producers/, streams/ and sinks/ wrap it. tests/test_architecture.py keeps it that way.
"""

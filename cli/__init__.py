"""The `hcp` command line: one command, a subcommand per job.

Each subcommand module holds its argparse definition and a run function.
"""

"""Run the CLI with `python -m vitalsign`."""

from vitalsign.cli import main

main()

"""``python -m runyard`` runs the CLI."""

from runyard.cli.app import main

main()

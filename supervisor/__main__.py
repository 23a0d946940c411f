"""``python -m supervisor`` is the ``zapvisor`` command."""

from supervisor.cli.main import main

main()

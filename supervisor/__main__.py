"""``python -m supervisor`` is the ``zapvisor`` command."""

from supervisor.cli import main

main()

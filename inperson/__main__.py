"""``python -m inperson``: the same as the ``inperson`` console script."""

from inperson.cli import app

app()

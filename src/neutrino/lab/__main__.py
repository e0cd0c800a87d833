"""`python -m neutrino.lab ...`: the lab's commands without the rest of neutrino's CLI."""

from .cli import lab_app

lab_app(prog_name="neutrino lab")

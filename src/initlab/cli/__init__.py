"""The ``initlab`` command line: argument parsing only; the numerics live in the library.

Each sub-command group lives in its own module of this package and is imported only when it runs,
so ``initlab list`` does not pay for importing the experiment machinery.
"""

from __future__ import annotations

import importlib
import importlib.util

import click

# command name -> (module, attribute); modules are imported lazily
COMMANDS = {
    "list": ("initlab.cli.schemes", "list_cmd"),
    "show": ("initlab.cli.schemes", "show_cmd"),
    "doctor": ("initlab.cli.doctor", "doctor_cmd"),
    "sweep": ("initlab.cli.experiments", "sweep_cmd"),
    "experiment": ("initlab.cli.experiments", "experiment_cmd"),
    "demo": ("initlab.cli.report", "demo_cmd"),
    "report": ("initlab.cli.report", "report_cmd"),
    "serve": ("initlab.cli.serve", "serve_cmd"),
    "coordcheck": ("initlab.cli.coordcheck", "coordcheck_cmd"),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return [name for name in COMMANDS if self._available(name)]

    @staticmethod
    def _available(name):
        module, _ = COMMANDS[name]
        return importlib.util.find_spec(module) is not None

    def get_command(self, ctx, name):
        if name not in COMMANDS or not self._available(name):
            return None
        module, attr = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="initlab")
def main():
    """initlab: neural-network weight initialization: schemes, diagnostics, experiments."""


__all__ = ["main"]

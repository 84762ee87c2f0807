"""Operator commands on the Temporal namespace (``duban temporal …``)."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

from runtime.settings import Settings

temporal_app = typer.Typer(help="One-shot operations on the Temporal namespace.")
stdout = Console(soft_wrap=True)


@temporal_app.command("register-search-attributes")
def register_search_attributes_command() -> None:
    """Register Duban's search attributes on DUBAN_TEMPORAL_NAMESPACE; safe to repeat.

    Needs the right to add search attributes (an admin of a self-hosted cluster). Where that
    is refused it says, in one line, which attributes to register by hand.
    """
    from cli.main import _run  # the one place that turns errors into one line
    from runtime.temporal import connect_temporal, register_search_attributes
    from workflows.task_contract import SEARCH_ATTRIBUTES

    async def main(settings: Settings, _stop: asyncio.Event) -> None:
        client = await connect_temporal(settings)
        namespace = settings.temporal_namespace
        registered = await register_search_attributes(client, namespace)
        if registered:
            stdout.print(
                f"registered search attributes on namespace {namespace!r}: {', '.join(registered)}",
                markup=False,
                highlight=False,
            )
        else:
            names = ", ".join(key.name for key in SEARCH_ATTRIBUTES)
            stdout.print(
                f"search attributes already registered on namespace {namespace!r}: {names}",
                markup=False,
                highlight=False,
            )

    _run(main)

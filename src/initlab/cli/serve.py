"""``initlab serve``: start the playground and print its address; the app lives in :mod:`initlab.serve`."""

from __future__ import annotations

import click

from ..errors import InitlabError

__all__ = ["serve_cmd"]


@click.command("serve")
@click.option("--port", type=int, default=8765, show_default=True, help="TCP port (0 picks a free one).")
@click.option("--host", default=None, metavar="HOST",
              help="Address to bind. Default 127.0.0.1 (this machine only); any other address lets other "
                   "machines open the playground and run training on this one.")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in the default web browser.")
@click.option("--max-pages", type=int, default=16, show_default=True, help="Pages connected at once.")
def serve_cmd(port: int, host: str | None, open_browser: bool, max_pages: int):
    """The playground: change a network's initialization and watch, live in the browser, what it
    does layer by layer while it trains. Stop it with Ctrl-C."""
    from ..serve import LOOPBACK, Server

    bind = "127.0.0.1" if host is None else host
    if host is not None and host not in LOOPBACK:
        click.echo(f"warning: binding {host}: other machines that reach this address can open the playground "
                   "and make this machine train networks (up to the page and size limits); there is no login",
                   err=True)
    try:
        server = Server(bind, port, max_pages=max_pages)
        server.bind()  # a taken port fails here, in one line
    except InitlabError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"initlab playground: {server.url}  (Ctrl-C stops it)")
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.run()
    except KeyboardInterrupt:  # pragma: no cover - uvicorn handles the signal itself
        pass

"""``watch287g serve``: the web app alone, for those who host it apart from
the service (``watch287g run`` serves it itself when [web] listen and
public_url are set). docs/web.md."""

from __future__ import annotations

from watch287g.cmd_config import refuse_invalid_config
from watch287g.command import EXIT_USAGE, Context, add_command
from watch287g.web.settings import parse_listen


def register(subparsers) -> None:
    parser = add_command(subparsers, "serve",
                         "run the web app alone: e-mail sign-up and unsubscribe links, the report and feeds, "
                         "/healthz and /metrics (stop with SIGTERM or Ctrl-C)", cmd_serve)
    parser.add_argument("--listen", metavar="HOST:PORT",
                        help="where to listen (default: [web] listen, else 127.0.0.1:8287)")


def cmd_serve(ctx: Context, args) -> int:
    listen = parse_listen(args.listen, "--listen") if args.listen else None
    # The sign-up pages need the signing secret: create_app says so if it is missing.
    if refuse_invalid_config(ctx.config, ctx.data_dir):
        return EXIT_USAGE
    from watch287g.web.app import create_app  # Flask only for the command that needs it
    from watch287g.web.server import serve

    web = ctx.settings.web
    return serve(create_app(ctx.settings, ctx.store()), listen or web.address, web.threads, web.url_prefix)

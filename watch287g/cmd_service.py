"""``watch287g run``: start the service, or ask the running one to check now."""

from __future__ import annotations

import logging
import os
import signal

from watch287g.cmd_config import check_config, refuse_invalid_config
from watch287g.command import EXIT_USAGE, Context, add_command
from watch287g.core.errors import UserError
from watch287g.heartbeat import running_service_pid

log = logging.getLogger("watch287g.service")

def register(subparsers) -> None:
    parser = add_command(subparsers, "run",
                         "keep watch: check sources on their schedules, deliver alerts and digests, "
                         "watch the sources' health (stop with SIGTERM or Ctrl-C)", cmd_run)
    parser.add_argument("--check-now", action="store_true",
                        help="ask the service running on this data dir to check every source now "
                             "(sends it SIGUSR1), then exit")


def cmd_run(ctx: Context, args) -> int:
    if args.check_now:
        return _check_now(ctx)
    # Refuse to start on a config `config check` refuses, with its one-line
    # errors; a secret missing from the environment is logged (deliveries
    # to that destination fail and are retried until it is set).
    if refuse_invalid_config(ctx.config, ctx.data_dir):
        return EXIT_USAGE
    if not args.quiet and not args.verbose:
        logging.getLogger("watch287g").setLevel(logging.INFO)   # one line per check and delivery
    for line in check_config(ctx.config, ctx.data_dir)["errors"]:
        log.warning("%s", line)
    from watch287g.schedule import service_settings  # APScheduler: only for `run`

    settings = service_settings(ctx.config)
    if not settings.sources:
        raise UserError(f"no enabled [[sources]] in {ctx.config.origin}: nothing to watch")
    from watch287g.service import (
        Service,  # APScheduler only for the command that needs it
    )

    return Service(ctx.settings, ctx.data_dir, settings).run()


def _check_now(ctx: Context) -> int:
    pid = running_service_pid(ctx.data_dir)
    if pid is None:
        raise UserError(f"no watch287g service is running on {ctx.data_dir} "
                        f"(start one with `watch287g run`, or check once with `watch287g check`)")
    try:
        os.kill(pid, signal.SIGUSR1)
    except PermissionError:
        raise UserError(f"not allowed to signal the service (pid {pid}): run this as the service's user") from None
    if ctx.json:
        ctx.emit({"pid": pid, "requested": "check all sources"})
    else:
        print(f"asked the service (pid {pid}) to check every source now; see `watch287g status`")
    return 0

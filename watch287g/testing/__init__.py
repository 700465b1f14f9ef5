"""Local stand-ins for the outside world, on 127.0.0.1 only: a scripted web
site (ICE's page and workbooks), Slack's Web API, an SMTP server; and what
drives the app against them: the service as a child process, a web client,
requests signed as Slack signs them.

The tests, ``watch287g demo`` and the benchmarks share these; none of them
is used by the service itself. The SMTP server needs aiosmtpd (the ``test``
extra)."""

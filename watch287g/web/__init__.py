"""The web app: e-mail sign-up with double opt-in, signed manage and
one-click unsubscribe links, the published report and feeds, /healthz and
/metrics (docs/web.md).

``app.create_app`` builds the one Flask app; other parts of watch287g add
their routes to it through its ``extra_mounts`` hook (the Slack app's
``/slack/events``). ``server`` runs it on waitress, alone (``watch287g
serve``) or beside the service (``watch287g run``). This package's
``__init__`` imports nothing, so commands that only read ``[web]`` settings
do not load Flask.
"""

"""The Slack app (docs/slack-app.md): ``/287g`` to subscribe a channel,
check now and see status, the App Home, the subscribe form. Hosted by
``watch287g run`` (frontends.py) over Socket Mode or HTTP."""

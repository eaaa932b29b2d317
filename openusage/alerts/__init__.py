"""Alerts: settings.json `alerts` rules evaluated by the daemon, delivered to the log, the desktop, a
command, the dashboard, GET /v1/alerts and /metrics.

rules.py holds the rules and their pure evaluation, state.py their rows in the store, deliver.py the
channels, service.py the daemon's thread that ties them together.
"""

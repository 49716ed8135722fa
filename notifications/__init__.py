"""Stakeholder alerts: Jinja2 rendering and Apprise delivery."""

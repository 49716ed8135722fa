"""Flexport's REST API, as flexhook calls it: `app.flexport_api.client.FlexportClient`.

Errors share one base, `app.flexport_api.client.FlexportApiError`.
"""

"""Flexport's REST API, as flexhook calls it: `app.flexport.api.FlexportClient`.

Errors share one base, `app.flexport.api.FlexportApiError`.
"""

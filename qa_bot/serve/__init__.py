"""Serving: the HTTP app (JSON API, the Gradio chat, the embeddable widget) and its guards.

`app` assembles them; `api` is the JSON API; `guards` the request limits, CORS and rate
limits; `ui` the chat; `workers` answers in worker processes; `examples` the suggested
questions; `static/` the widget's files. Imports everything before it except `evaluation`.
"""

"""The web app: channels' webhooks, the demo page with the chat widget, the console, health.

Build it with :func:`console.app.create_app`; nothing is created at import time.
"""

"""The web UI's helpers: settings, engine wiring, sessions, rendering. `app.py` assembles the page from them."""

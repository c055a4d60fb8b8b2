"""The reference insurance centre: a training and test stand-in for the national platform.

It answers over HTTP as the platform does (`server.py`), keeps its own books (`books.py`), hands out
national catalogues (`catalogue.py`) and checks the gateway's signed headers (`gateway.py`). It
imports `counter_app` for the shared facts (field lists, policy packs, the engine); the counter
never imports it, and a counter bundle does not ship it. `counter-app centre` reaches it through
the entry point in pyproject.toml (`command.py`).
"""

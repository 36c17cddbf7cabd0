"""``nlp-lstm serve``: the exports over HTTP with TensorFlow Serving's REST API.

``command`` (argument parsing, cheap to import), ``app`` (the Starlette application),
``models`` (loading and reloading versions), ``batching`` (merging concurrent
requests), ``protocol`` (the JSON request and response formats), ``playground.html``.
"""

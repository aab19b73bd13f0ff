"""``promptkit playground``: a local web page where a prompt is linted, completed, explained and converted as
it is typed. The page (``static/``) talks to a small JSON API (``api.py``) served by the same process
(``server.py``); everything it shows comes from ``promptkit.editing``, the library code the CLI uses."""

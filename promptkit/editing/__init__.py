"""What editors show about a prompt while it is written: shared by the language server and the playground.

Both surfaces show the same things, computed by the same library code the CLI uses (``lint_prompt``,
``fix_text``, ``format_prompt``, ``TagDB``, ``plan_chunks``, ``render``):

- ``documents``: how a file is cut into prompts (a prompt file, one prompt per line, wildcard files,
  A1111 ``styles.csv`` cells) and which profile and dialect apply (directive line, project config, client
  settings), with every span mapped back to the file.
- ``analysis``: findings, fixes, formatting, completion, hover, chunks and conversions as plain JSON data.
- ``worker``: runs ``analysis`` in a child process with a memory and time limit, so that no document,
  however hostile, can take a server down with it.
- ``positions``: offsets in code points to UTF-16 units and to line/column, in linear time.

Nothing here imports pygls or a web server; ``import promptkit`` does not import this package.
"""

"""``promptkit lsp``: the linter, tag completion, hover, formatting and highlighting in any LSP editor.

Built on pygls 2 and lsprotocol (the ``lsp`` extra). The server speaks the protocol and keeps the documents;
everything it shows is computed by ``promptkit.editing`` in a child process (see ``editing.worker``), with
the same library code as ``promptkit lint`` and ``promptkit fmt``. Nothing here is imported by
``import promptkit``.
"""

"""Private machinery behind :mod:`orkestra_trio.katalog.template`.

Go text/template source goes through four small steps, one module each:
``lexer`` (characters to tokens), ``parser`` (tokens to the ``nodes`` tree, with
every variable resolved), ``translate`` (tree to jinja2 source that only ever
names our own generated identifiers) and ``engine`` (the sandboxed jinja2
environment and the bounded render loop). ``values`` holds Go's value
semantics, ``gofmt`` its printf, ``functions`` the function registry and
``limits`` the per-render budgets. Nothing here is public API.
"""

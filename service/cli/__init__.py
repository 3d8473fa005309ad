"""The citeqa command line: an edge of the product, as the HTTP service is; settings are read here.

service.cli.app builds the typer app (the console script); one module a command group (indexing: index,
rebuild, verify, serve; writing: add, remove; asking: ask), what they share in service.cli.common. The
evaluation commands live in eval/ and plug in through the ``citeqa.commands`` entry points.
"""

"""The command line: ``meshchat COMMAND``. ``main`` builds the parser from one module per command group."""

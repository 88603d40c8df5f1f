"""heartbleed-audit: the rule's verdicts from a terminal, local invocation, and safe remediation.

`cli` is the parser, with one module per subcommand; `demo` and `double` need the `demo` extra.
"""

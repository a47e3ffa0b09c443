"""A small, honest PowerShell interpreter: the subset Nestlab's driver sends to a Hyper-V host.

Parsing is done by a real tokenizer and a recursive-descent parser (``parser.py``) into an AST
(``ast.py``) that the evaluator (``evaluator.py``) walks. String literals only ever become values,
so nothing inside a quoted literal can execute. Anything outside the subset fails the way
PowerShell fails (a parse error or "The term 'X' is not recognized ..."), never silently.
"""

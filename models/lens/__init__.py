"""The token-shift lens: how another model ranks, token by token, the answer a pane gave.

shift.py holds the data and the arithmetic (no model needed), request.py what one scoring run is
asked, vocabulary.py how two models' vocabularies are compared, pairing.py who scores whom and the
caveat when the two panes are not a base and its own fine-tune, and run.py the one call that
scores a pane's answer on the scoring pane's worker. The engines do the evaluation
(models/engines/llama/scoring.py); nothing here imports Textual or llama.cpp.
"""

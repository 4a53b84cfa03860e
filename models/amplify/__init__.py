"""Model-diff amplification: decode from ``tuned + a * (tuned - base)``, both models fed the same
tokens at every step, to make visible what a fine-tune changed (Goodfire's "logit diff
amplification"; proxy-tuning is the same arithmetic). a = 0 answers as the tuned model, a = -1 as
the base, a > 0 exaggerates what fine-tuning changed.

- steps.py: the live values of a (the keys' steps), the header's label and its warning.
- pairing.py: which two models an amplified pane runs, and the pairs it refuses; panes.py: the
  amplified pane among the panes the user opened.
- mix.py: the arithmetic on two logits rows (numpy): the combination, KL(tuned || base), the
  tokens the fine-tune raises most.
- sampling.py: the pane's sampling settings applied to the combined logits.
- trace.py: what the last amplified answer pushed, per token, for the lens view and --json.

The engine that holds the two llama.cpp contexts is models/engines/llama/amplified.py.
"""

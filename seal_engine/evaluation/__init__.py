"""Evaluation harness: the paper's four numbers for baseline vs SEAL vs each ablation.

One module per metric, each with its definition in the docstring:
`identity` (subject-only CLIP cosine), `attributes_accuracy` (zero-shot CLIP per
attribute), `leakage` (reference background reappearing), `rigidity` (reference
layout reappearing). `dataset` reads the evaluation dataset format, `bootstrap`
gives confidence intervals, `report` writes the table (shared with the toy-world
bench), `bench` runs the whole comparison resumably, `clip_models` loads CLIP (or
builds a tiny random one for tests). See docs/evaluation.md.

No heavy import happens here; modules that need torch/transformers import them inside functions.
"""

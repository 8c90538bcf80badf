"""Keras 3 ports of every network of both papers.

Each network has a spec in `models.registry` (its names, inputs and sizes); build one by
name with `build_model`, or sized for a loader's samples with `build_for_loader`. Each
builder's docstring gives the exact input and output shapes. Pretrained weights come from
local files only (`models.weights`).
"""

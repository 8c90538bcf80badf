"""Keras 3 ports of every network of both papers.

Build one by name through `models.registry.build_model`; each builder's docstring gives the
exact input and output shapes. Pretrained weights come from local files only
(`models.weights`).
"""

"""Measures of what a trained model learned: kNN, retrieval, classification, localisation."""

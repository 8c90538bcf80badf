"""Measures of what a trained model learned: kNN, retrieval, classification, localisation.

    metrics    the measures on arrays (scikit-learn where it has them)
    extract    a stage's per-sample features, attention maps and window identities
    localise   the simulator's ground truth, and map peaks against it
    evaluate   a whole run: `evaluate_run` (what evaluate.py runs)
    report     its results as a table (`format_table`) and in TensorBoard
"""

"""Metrics on extracted features, with scikit-learn where it has them.

- kNN classification (A): k chosen on the validation split among `ks`, then scored on test.
- Class share of a feature's variance: what kNN can use, and how much of it there is.
- Cross-modal retrieval: queries of one modality rank the gallery of the other by given
  distances; a hit is a gallery item of the query's class. Rank-K is the share of queries
  with a hit among the first K, mAP the mean of the queries' average precision.
- Classification: accuracy, per-class accuracy, confusion matrix.
- Localisation: the peak of a (h, w) map against the true source position in the image.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, confusion_matrix
from sklearn.neighbors import KNeighborsClassifier

RANKS = (1, 2, 5, 10, 30)
KNN_KS = (7, 9, 11, 13, 15)  # (A)'s knn.py


def knn(train: tuple[np.ndarray, np.ndarray], validation: tuple[np.ndarray, np.ndarray],
        test: tuple[np.ndarray, np.ndarray], ks=KNN_KS) -> dict:
    """Fits on `train` for every k, keeps the k best on `validation`, reports it on `test`."""
    scores = {}
    for k in ks:
        k_used = min(k, len(train[0]))
        scores[k] = KNeighborsClassifier(n_neighbors=k_used).fit(*train).score(*validation)
    best_k = max(scores, key=lambda k: (scores[k], -k))
    model = KNeighborsClassifier(n_neighbors=min(best_k, len(train[0]))).fit(*train)
    return {"k": int(best_k), "validation_accuracy": float(scores[best_k]), "test_accuracy": float(model.score(*test))}


def class_share(features: np.ndarray, labels: np.ndarray) -> dict:
    """The features' total variance (mean squared distance to their mean) and the share of it
    between the class means (eta squared, summed over dimensions): 1 when every sample sits
    on its class's mean; about (classes - 1) / (samples - 1) for features blind to the class."""
    features = np.asarray(features, np.float64)  # float32 sums of thousands of squares lose digits
    centred = features - features.mean(axis=0)
    total = float(np.sum(centred ** 2))
    classes, members = np.unique(labels, return_inverse=True)
    sums = np.zeros((len(classes), features.shape[1]))
    np.add.at(sums, members, centred)
    # n_c * |class mean - mean|^2 = |class sum of centred|^2 / n_c
    between = float(np.sum(sums ** 2 / np.bincount(members)[:, None]))
    return {"variance": total / len(features), "class_share": between / total if total > 0 else 0.0}


def retrieval(distances: np.ndarray, query_labels: np.ndarray, gallery_labels: np.ndarray, ranks=RANKS) -> dict:
    """Rank-K (a same-class item among the K nearest) and mAP of queries against a gallery,
    from their (queries, gallery) distances."""
    order = np.argsort(distances, axis=1, kind="stable")
    hits = gallery_labels[order] == query_labels[:, None]
    result = {f"rank_{k}": float(np.mean(hits[:, :k].any(axis=1))) for k in ranks if k <= distances.shape[1]}
    relevant = gallery_labels[None, :] == query_labels[:, None]
    precisions = [average_precision_score(r, -d) for r, d in zip(relevant, distances) if r.any()]
    result["mAP"] = float(np.mean(precisions)) if precisions else 0.0
    return result


def classification(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> dict:
    matrix = confusion_matrix(labels, predictions, labels=np.arange(num_classes))
    support = matrix.sum(axis=1)
    per_class = np.divide(np.diag(matrix), support, out=np.full(num_classes, np.nan), where=support > 0)
    return {
        "accuracy": float(np.mean(labels == predictions)),
        "per_class_accuracy": [None if np.isnan(a) else float(a) for a in per_class],
        "confusion_matrix": matrix.tolist(),
    }


def map_peak_pixels(heat: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """(N, h, w) maps -> (N, 2) image coordinates (u, v) of the centre of each map's peak cell."""
    n, h, w = heat.shape
    flat = np.argmax(heat.reshape(n, -1), axis=1)
    rows, cols = np.divmod(flat, w)
    height, width = image_size
    return np.stack([(cols + 0.5) * width / w, (rows + 0.5) * height / h], axis=1)


def localisation(heat: np.ndarray, true_uv: np.ndarray, image_size: tuple[int, int],
                 tolerance: float = 40.0) -> dict:
    """Pointing accuracy (share of peaks within `tolerance` pixels of the truth) and the mean
    and median pixel error of the peaks."""
    errors = np.linalg.norm(map_peak_pixels(heat, image_size) - true_uv, axis=1)
    return {"pointing_accuracy": float(np.mean(errors <= tolerance)), "tolerance_px": tolerance,
            "mean_error_px": float(errors.mean()), "median_error_px": float(np.median(errors))}

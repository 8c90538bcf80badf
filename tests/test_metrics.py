import numpy as np
import pytest

from evaluation import metrics


def test_knn_picks_k_on_validation_and_scores_test(rng):
    centres = np.eye(3) * 5
    def split(n):
        labels = np.arange(n) % 3
        return centres[labels] + rng.normal(size=(n, 3)), labels
    result = metrics.knn(split(60), split(30), split(30))
    assert 7 <= result["k"] <= 15
    assert result["validation_accuracy"] == 1.0 and result["test_accuracy"] == 1.0
    noisy = metrics.knn(split(60), split(30), (rng.normal(size=(30, 3)), np.arange(30) % 3))
    assert noisy["test_accuracy"] < 0.8


def test_class_share_by_hand():
    # mean 6: squares 36 + 16 + 16 + 36 = 104; class means 1 and 11: 2 * 25 + 2 * 25 = 100 between
    result = metrics.class_share(np.array([[0.0], [2.0], [10.0], [12.0]]), np.array([0, 0, 1, 1]))
    assert result["variance"] == pytest.approx(26.0)
    assert result["class_share"] == pytest.approx(100 / 104)
    # summed over dimensions; labels need not be 0..C-1
    two = metrics.class_share(np.array([[0.0, 1.0], [2.0, 1.0], [10.0, 3.0], [12.0, 3.0]]), np.array([5, 5, 9, 9]))
    assert two["variance"] == pytest.approx((104 + 4) / 4)
    assert two["class_share"] == pytest.approx((100 + 4) / (104 + 4))


def test_class_share_of_class_means_and_of_blind_features(rng):
    labels = np.arange(2000) % 10
    assert metrics.class_share(np.eye(10)[labels], labels)["class_share"] == pytest.approx(1.0)
    blind = metrics.class_share(rng.normal(size=(2000, 8)), labels)["class_share"]
    assert blind == pytest.approx(9 / 1999, abs=0.01)
    assert metrics.class_share(np.ones((4, 3)), np.array([0, 0, 1, 1])) == {"variance": 0.0, "class_share": 0.0}


def test_retrieval_ranks_and_map_by_hand():
    gallery = np.array([[0.0], [1.0], [2.0], [3.0]])
    gallery_labels = np.array([0, 1, 1, 0])
    queries = np.array([[0.1], [2.9]])
    distances = np.abs(queries - gallery.T)
    result = metrics.retrieval(distances, np.array([1, 1]), gallery_labels, ranks=(1, 2, 5))
    # query 0 ranks 0,1,2,3 (labels 0,1,1,0): first hit at 2; query 1 ranks 3,2,1,0: first hit at 2
    assert result["rank_1"] == 0.0 and result["rank_2"] == 1.0 and "rank_5" not in result
    # AP of each: hits at positions 2 and 3 -> (1/2 + 2/3) / 2
    assert result["mAP"] == pytest.approx((0.5 + 2 / 3) / 2)


def test_classification_per_class_and_confusion():
    result = metrics.classification(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), num_classes=3)
    assert result["accuracy"] == 0.75
    assert result["per_class_accuracy"] == [0.5, 1.0, None]
    assert result["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [0, 0, 0]]


def test_localisation_peaks_against_truth():
    heat = np.zeros((2, 36, 48))
    heat[0, 10, 20] = 1.0
    heat[1, 0, 0] = 1.0
    truth = np.array([[(20 + 0.5) * 640 / 48, (10 + 0.5) * 480 / 36], [320.0, 240.0]])
    result = metrics.localisation(heat, truth, (480, 640), tolerance=20.0)
    assert result["pointing_accuracy"] == 0.5
    far = np.hypot(320 - 640 / 96, 240 - 480 / 72)
    assert result["mean_error_px"] == pytest.approx(far / 2)

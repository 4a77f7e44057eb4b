import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import check_estimator

import aelib
from aelib.sklearn import AutoencoderTransformer


@pytest.fixture(scope="module")
def digits():
    d = aelib.load_digits()
    return d.x_train.numpy(), d.y_train.numpy(), d.x_test.numpy(), d.y_test.numpy()


def test_pipeline_classifies_from_codes(digits):
    x, y, xt, yt = digits
    pipe = make_pipeline(AutoencoderTransformer(latent_dim=16, hidden_dims=(64,), output="sigmoid", epochs=30),
                         LogisticRegression(max_iter=2000))
    pipe.fit(x, y)
    assert pipe.score(xt, yt) > 0.85


def test_clone_keeps_params_and_drops_state(digits):
    x, *_ = digits
    est = AutoencoderTransformer(latent_dim=4, epochs=2).fit(x)
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    assert not hasattr(copy, "model_")
    z = est.transform(x[:5])
    assert z.shape == (5, 4) and est.inverse_transform(z).shape == (5, 64)
    assert est.score(x) < 0


def test_grid_search_prefers_larger_code(digits):
    x, *_ = digits
    grid = GridSearchCV(AutoencoderTransformer(epochs=15, hidden_dims=(64,), output="sigmoid"),
                        {"latent_dim": [1, 16]}, cv=2).fit(x)
    assert grid.best_params_ == {"latent_dim": 16}


def test_wrong_width_is_refused(digits):
    x, *_ = digits
    est = AutoencoderTransformer(latent_dim=3, epochs=1).fit(x)
    with pytest.raises(ValueError, match="features"):
        est.transform(np.zeros((2, 10)))


def test_scikit_learn_estimator_checks():
    check_estimator(AutoencoderTransformer(latent_dim=2, hidden_dims=(8,), epochs=2))

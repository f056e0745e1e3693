import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_predict

from neurofusion.demo.settings import DemoSettings
from neurofusion.demo.subjects import draw_severities, draw_subjects, expected_auc, participant_ids


@pytest.fixture
def settings():
    return DemoSettings(n_subjects=20, n_without_scan=3, n_without_proteins=2)


def test_ids_are_zero_padded_and_last_ones_have_no_scan(settings):
    subjects = draw_subjects(settings, np.random.default_rng(0))
    assert [s.participant_id for s in subjects] == participant_ids(20)
    assert participant_ids(3) == ["sub-001", "sub-002", "sub-003"]
    assert [s.has_scan for s in subjects] == [True] * 17 + [False] * 3
    no_proteins = [s for s in subjects if not s.has_proteins]
    assert len(no_proteins) == 2 and all(s.has_scan for s in no_proteins)


def test_diagnoses_balanced_and_demographics_plausible(settings):
    subjects = draw_subjects(settings, np.random.default_rng(1))
    assert sum(s.diagnosis == "AD" for s in subjects) == 10
    assert {s.diagnosis for s in subjects} == {"CN", "AD"}
    assert all(55 <= s.age <= 90 and s.sex in ("F", "M") and s.site in settings.sites for s in subjects)


def test_severities_follow_the_designed_class_means():
    settings = DemoSettings()
    diagnosis = np.array(["CN", "AD"] * 500)
    mri, protein = draw_severities(diagnosis, settings, np.random.default_rng(2))
    for values in (mri, protein):
        assert values[diagnosis == "CN"].mean() == pytest.approx(settings.severity_mean_cn, abs=0.05)
        assert values[diagnosis == "AD"].mean() == pytest.approx(settings.severity_mean_ad, abs=0.05)
        assert values[diagnosis == "AD"].std() == pytest.approx(1.0, abs=0.05)
    # independent given the label
    assert abs(np.corrcoef(mri[diagnosis == "AD"], protein[diagnosis == "AD"])[0, 1]) < 0.1


def test_each_modality_alone_is_clearly_weaker_than_both():
    """The signal split the demo exists to show, measured with a linear model."""
    settings = DemoSettings()
    diagnosis = np.array(["CN", "AD"] * 2000)
    mri, protein = draw_severities(diagnosis, settings, np.random.default_rng(3))
    y = (diagnosis == "AD").astype(int)

    def cv_auc(x):
        prob = cross_val_predict(LogisticRegression(), x, y, cv=5, method="predict_proba")[:, 1]
        return roc_auc_score(y, prob)

    auc_mri, auc_protein, auc_both = cv_auc(mri[:, None]), cv_auc(protein[:, None]), cv_auc(np.c_[mri, protein])
    assert 0.85 <= auc_mri <= 0.95 and 0.85 <= auc_protein <= 0.95
    assert auc_both >= max(auc_mri, auc_protein) + 0.05
    expected = expected_auc(settings)
    assert auc_mri == pytest.approx(expected["mri_severity"], abs=0.02)
    assert auc_both == pytest.approx(expected["both"], abs=0.02)

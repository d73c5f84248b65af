"""Tests of radxai.data.phantoms: synthetic chest CT and chest X-ray phantoms.

Small shapes keep the file fast; speed itself is measured by the benchmarks, never asserted here.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radxai.data import phantoms
from radxai.data.phantoms import (
    CT_CONFOUNDERS,
    CXR_FINDINGS,
    GRADE_INVOLVEMENT,
    NO_FINDING,
    ORGAN_LABELS,
    ct_phantom,
    cxr_phantom,
    grade_for_involvement,
)

CT_SHAPE = (32, 64, 64)
CXR_SHAPE = (128, 128)
ALL_FINDINGS = list(CXR_FINDINGS)
FOCAL_FINDINGS = ["Lung Opacity", "Nodule/Mass", "Pleural effusion", "Pleural thickening", "Pulmonary fibrosis"]


def in_grade(involvement: float, grade: int) -> bool:
    lower, upper = GRADE_INVOLVEMENT[grade]
    return involvement == 0.0 if grade == 0 else lower < involvement <= upper


def runs(profile: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of True values in a 1D bool array."""
    padded = np.concatenate([[False], profile, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2], edges[1::2]))


# ------------------------------------------------------------------------------- CT


@pytest.fixture(scope="module")
def ct_grade_3() -> phantoms.CTPhantom:
    return ct_phantom(3, shape=CT_SHAPE, grade=3)


def test_ct_same_seed_gives_identical_arrays_and_other_seed_differs():
    first = ct_phantom(11, shape=CT_SHAPE, grade=2, confounders=("marker",))
    again = ct_phantom(11, shape=CT_SHAPE, grade=2, confounders=("marker",))
    other = ct_phantom(12, shape=CT_SHAPE, grade=2, confounders=("marker",))
    assert first.hu.tobytes() == again.hu.tobytes()
    assert np.array_equal(first.lesion_mask, again.lesion_mask)
    assert np.array_equal(first.organ_mask, again.organ_mask)
    assert first.involvement == again.involvement
    assert not np.array_equal(first.hu, other.hu)
    assert not np.array_equal(first.organ_mask, other.organ_mask)


def test_lung_mask_of_keeps_exactly_the_two_lung_labels(ct_grade_3):
    organs = ct_grade_3.organ_mask
    lungs = phantoms.lung_mask_of(organs)
    labels = set(np.unique(organs[lungs]).tolist())
    assert labels == {phantoms.ORGAN_LABELS["right_lung"], phantoms.ORGAN_LABELS["left_lung"]}
    assert not np.isin(organs[~lungs], list(labels)).any()
    assert np.array_equal(lungs, ct_grade_3.lung_mask)


def test_ct_types_shapes_and_spacing(ct_grade_3):
    assert ct_grade_3.hu.dtype == np.float32 and ct_grade_3.hu.shape == CT_SHAPE
    assert ct_grade_3.lesion_mask.dtype == np.uint8 and ct_grade_3.organ_mask.dtype == np.uint8
    assert ct_grade_3.lung_mask.dtype == bool and ct_grade_3.lesion_binary.dtype == bool
    assert ct_grade_3.spacing_mm == pytest.approx((300 / 32, 350 / 64, 350 / 64))
    assert ct_grade_3.hu.min() >= -1024 and ct_grade_3.hu.max() <= 3071
    assert set(np.unique(ct_grade_3.lesion_mask)) == {0, 1, 2}
    assert ct_grade_3.seed == 3 and ct_grade_3.confounders == ()


def test_ct_spacing_scales_with_shape():
    phantom = ct_phantom(0, shape=(16, 32, 48), grade=0)
    assert phantom.spacing_mm == pytest.approx((300 / 16, 350 / 32, 350 / 48))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ct_healthy_lung_is_near_minus_850_hu(seed):
    phantom = ct_phantom(seed, shape=CT_SHAPE, grade=0)
    assert -900 < phantom.hu[phantom.lung_mask].mean() < -790


def test_ct_organs_present_and_lungs_on_the_correct_side(ct_grade_3):
    _, _, width = CT_SHAPE
    columns = np.arange(width)[None, None, :]
    centres = {}
    for name, label in ORGAN_LABELS.items():
        organ = ct_grade_3.organ_mask == label
        assert organ.sum() > 100, name
        centres[name] = float(np.broadcast_to(columns, CT_SHAPE)[organ].mean())
    # Radiological display: the patient's right lung is on the image left (low columns).
    assert centres["right_lung"] < width / 2 < centres["left_lung"]
    assert centres["right_lung"] < centres["mediastinum"] < centres["left_lung"]
    mediastinum_hu = np.median(ct_grade_3.hu[ct_grade_3.organ_mask == ORGAN_LABELS["mediastinum"]])
    assert 0 < mediastinum_hu < 100


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_ct_table_lies_below_the_body_behind_an_air_gap(seed):
    phantom = ct_phantom(seed, shape=CT_SHAPE, grade=0, noise_hu=0.0)
    depth, height, width = CT_SHAPE
    profile = phantom.hu[depth // 2, :, width // 2] > -500
    segments = runs(profile)
    assert len(segments) >= 2, segments
    (body_start, body_stop), (table_start, table_stop) = segments[-2], segments[-1]
    # The table is the last (most posterior) structure, thin, and separated by air.
    assert table_start > body_stop
    assert np.all(phantom.hu[depth // 2, body_stop:table_start, width // 2] < -900)
    assert table_stop - table_start < height // 8
    assert body_stop - body_start > height // 3
    assert table_start > height // 2


def test_ct_spine_is_bright_and_posterior(ct_grade_3):
    depth, height, width = CT_SHAPE
    middle = ct_grade_3.hu[:, :, width // 2 - 1 : width // 2 + 1]
    bone_rows = np.nonzero(middle > 400)[1]
    assert bone_rows.size > depth  # bone in (nearly) every slice
    lung_rows = np.nonzero(ct_grade_3.lung_mask)[1]
    assert np.median(bone_rows) > np.median(lung_rows)


def test_ct_lesions_lie_inside_the_lungs(ct_grade_3):
    assert ct_grade_3.lesion_binary.any()
    assert not np.any(ct_grade_3.lesion_binary & ~ct_grade_3.lung_mask)


def test_ct_lesion_density_ground_glass_between_lung_and_consolidation():
    phantom = ct_phantom(5, shape=CT_SHAPE, grade=3, noise_hu=0.0)
    healthy = phantom.hu[phantom.lung_mask & ~phantom.lesion_binary].mean()
    ground_glass = np.median(phantom.hu[phantom.lesion_mask == 1])
    consolidation = np.median(phantom.hu[phantom.lesion_mask == 2])
    assert healthy < ground_glass < consolidation
    assert -750 < ground_glass < -400
    assert -150 < consolidation < 60
    share = (phantom.lesion_mask == 2).sum() / phantom.lesion_binary.sum()
    assert 0.15 < share < 0.45


@pytest.mark.parametrize("grade", [0, 1, 2, 3, 4])
def test_ct_involvement_lies_in_the_grade_range(grade):
    phantom = ct_phantom(7, shape=CT_SHAPE, grade=grade)
    assert phantom.grade == grade
    assert in_grade(phantom.involvement, grade), phantom.involvement
    assert phantom.involvement == pytest.approx(phantom.lesion_binary.sum() / phantom.lung_mask.sum())


def test_ct_grade_zero_has_no_lesion():
    phantom = ct_phantom(4, shape=CT_SHAPE, grade=0)
    assert phantom.involvement == 0.0
    assert not phantom.lesion_mask.any()


@pytest.mark.parametrize(("grade", "involvement"), [(1, 0.1), (2, 0.4), (3, 0.6), (4, 0.9), (None, 0.33)])
def test_ct_requested_involvement_is_achieved_within_one_point(grade, involvement):
    phantom = ct_phantom(8, shape=CT_SHAPE, grade=grade, involvement=involvement)
    assert abs(phantom.involvement - involvement) < 0.01
    assert phantom.grade == grade_for_involvement(involvement)


@pytest.mark.parametrize("seed", range(6))
def test_ct_involvement_at_a_grade_edge_stays_in_that_grade(seed):
    # Rounding the voxel count could push the share just past the edge; the grade must win.
    upper_edge = ct_phantom(seed, shape=(16, 32, 32), grade=1, involvement=0.25)
    assert upper_edge.grade == 1 and in_grade(upper_edge.involvement, 1)
    lower_edge = ct_phantom(seed, shape=(16, 32, 32), grade=2, involvement=0.25 + 1e-9)
    assert lower_edge.grade == 2 and in_grade(lower_edge.involvement, 2)


def test_ct_drawn_grade_is_reproducible_and_varies_with_seed():
    grades = {ct_phantom(seed, shape=(16, 32, 32)).grade for seed in range(12)}
    assert len(grades) >= 3
    assert ct_phantom(5, shape=(16, 32, 32)).grade == ct_phantom(5, shape=(16, 32, 32)).grade


def test_ct_higher_grade_lesions_contain_lower_grade_lesions():
    lower = ct_phantom(6, shape=CT_SHAPE, grade=1)
    higher = ct_phantom(6, shape=CT_SHAPE, grade=3)
    assert np.array_equal(lower.organ_mask, higher.organ_mask)
    assert not np.any(lower.lesion_binary & ~higher.lesion_binary)


def test_ct_marker_changes_only_marker_voxels_and_is_bright():
    plain = ct_phantom(2, shape=CT_SHAPE, grade=2)
    marked = ct_phantom(2, shape=CT_SHAPE, grade=2, confounders=("marker",))
    changed = plain.hu != marked.hu
    assert 0 < changed.sum() < 0.002 * changed.size
    assert marked.hu[changed].min() > 1800
    # The marker lies in the air next to the body, never inside the patient.
    assert plain.hu[changed].max() < -900
    assert np.array_equal(plain.lesion_mask, marked.lesion_mask)
    assert np.array_equal(plain.organ_mask, marked.organ_mask)
    assert marked.confounders == ("marker",)


def test_ct_blanket_changes_only_blanket_voxels_in_front_of_the_body():
    plain = ct_phantom(2, shape=CT_SHAPE, grade=2, noise_hu=0.0)
    covered = ct_phantom(2, shape=CT_SHAPE, grade=2, noise_hu=0.0, confounders=("blanket",))
    changed = plain.hu != covered.hu
    assert changed.sum() > 50
    assert plain.hu[changed].max() < -900
    assert -110 <= covered.hu[changed].min() and covered.hu[changed].max() <= 10
    rows = np.nonzero(changed)[1]
    body_rows = np.nonzero(plain.organ_mask)[1]
    assert rows.max() < np.median(body_rows)  # anterior
    assert np.array_equal(plain.lesion_mask, covered.lesion_mask)


def test_ct_confounders_are_reported_in_canonical_order():
    phantom = ct_phantom(1, shape=(16, 32, 32), grade=0, confounders=["blanket", "marker"])
    assert phantom.confounders == CT_CONFOUNDERS


@pytest.mark.parametrize(
    ("arguments", "pattern"),
    [
        ({"shape": (32, 64)}, r"\(32, 64\)"),
        ({"shape": (8, 64, 64)}, r"\(8, 64, 64\)"),
        ({"shape": (32, 64, 64, 2)}, r"\(32, 64, 64, 2\)"),
        ({"grade": 5}, r"grade.*5"),
        ({"grade": -1}, r"grade.*-1"),
        ({"grade": 1, "involvement": 0.6}, r"0\.6.*CT-1"),
        ({"grade": 0, "involvement": 0.1}, r"0\.1.*CT-0"),
        ({"involvement": 1.5}, r"1\.5"),
        ({"confounders": ("sticker",)}, r"sticker.*marker.*blanket"),
        ({"noise_hu": -1.0}, r"noise_hu.*-1"),
    ],
)
def test_ct_bad_input_raises_value_error_naming_the_value(arguments, pattern):
    with pytest.raises(ValueError, match=pattern):
        ct_phantom(0, **{"shape": (16, 32, 32), **arguments})


def test_ct_negative_seed_is_rejected():
    with pytest.raises(ValueError, match="-3"):
        ct_phantom(-3, shape=(16, 32, 32))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), grade=st.integers(0, 4))
def test_ct_involvement_always_matches_the_grade(seed, grade):
    phantom = ct_phantom(seed, shape=(16, 32, 32), grade=grade)
    assert phantom.grade == grade
    assert in_grade(phantom.involvement, grade)
    assert grade_for_involvement(phantom.involvement) == grade
    assert not np.any(phantom.lesion_binary & ~phantom.lung_mask)


@settings(max_examples=20, deadline=None)
@given(involvement=st.floats(0.0, 1.0))
def test_grade_for_involvement_follows_mosmed_ranges(involvement):
    grade = grade_for_involvement(involvement)
    assert in_grade(involvement, grade)


# ---------------------------------------------------------------------------- X-ray


@pytest.fixture(scope="module")
def cxr_all() -> phantoms.CXRPhantom:
    return cxr_phantom(5, shape=CXR_SHAPE, findings=ALL_FINDINGS)


def test_cxr_same_seed_gives_identical_results_and_other_seed_differs():
    first = cxr_phantom(21, shape=CXR_SHAPE, prevalence=0.5)
    again = cxr_phantom(21, shape=CXR_SHAPE, prevalence=0.5)
    other = cxr_phantom(22, shape=CXR_SHAPE, prevalence=0.5)
    assert first.image.tobytes() == again.image.tobytes()
    assert first.labels == again.labels and first.true_boxes == again.true_boxes
    assert first.reader_boxes == again.reader_boxes
    assert not np.array_equal(first.image, other.image)


def test_cxr_image_is_float32_in_unit_range(cxr_all):
    assert cxr_all.image.dtype == np.float32 and cxr_all.image.shape == CXR_SHAPE
    assert cxr_all.image.min() >= 0.0 and cxr_all.image.max() <= 1.0
    assert cxr_all.pixel_spacing_mm == pytest.approx((350 / 128, 350 / 128))


def test_cxr_anatomy_dense_heart_and_spine_dark_lungs():
    image = cxr_phantom(3, shape=CXR_SHAPE, findings=[]).image
    height, width = CXR_SHAPE
    lungs = np.concatenate([image[40:70, 20:45].ravel(), image[40:70, 83:108].ravel()])
    spine_upper = image[10:30, width // 2 - 2 : width // 2 + 2]
    assert lungs.mean() < 0.35
    assert spine_upper.mean() > lungs.mean() + 0.3
    assert image[:, :3].max() < 0.1  # air beside the patient


def test_cxr_labels_masks_and_boxes_agree(cxr_all):
    height, width = CXR_SHAPE
    assert set(cxr_all.labels) == set(CXR_FINDINGS) | {NO_FINDING[0]}
    assert all(cxr_all.labels[name] for name in CXR_FINDINGS)
    assert cxr_all.labels[NO_FINDING[0]] is False
    assert set(cxr_all.finding_masks) == set(CXR_FINDINGS) == set(cxr_all.true_boxes)
    for name, mask in cxr_all.finding_masks.items():
        assert mask.dtype == bool and mask.shape == CXR_SHAPE and mask.any(), name
        rows, columns = np.nonzero(mask)
        expected = (columns.min(), rows.min(), columns.max() + 1, rows.max() + 1)
        assert cxr_all.true_boxes[name] == pytest.approx(expected), name
        x_min, y_min, x_max, y_max = cxr_all.true_boxes[name]
        assert 0 <= x_min < x_max <= width and 0 <= y_min < y_max <= height


@pytest.mark.parametrize("seed", range(8))
def test_cxr_no_finding_is_exclusive_and_labels_match_masks(seed):
    phantom = cxr_phantom(seed, shape=CXR_SHAPE, prevalence=0.3)
    present = {name for name in CXR_FINDINGS if phantom.labels[name]}
    assert phantom.labels[NO_FINDING[0]] == (not present)
    assert set(phantom.finding_masks) == present == set(phantom.true_boxes)
    assert {box.finding for box in phantom.reader_boxes} <= present


def test_cxr_empty_findings_give_no_finding_and_no_boxes():
    phantom = cxr_phantom(4, shape=CXR_SHAPE, findings=[])
    assert phantom.labels[NO_FINDING[0]] is True
    assert not any(phantom.labels[name] for name in CXR_FINDINGS)
    assert phantom.finding_masks == {} and phantom.true_boxes == {} and phantom.reader_boxes == []


def test_cxr_prevalence_extremes():
    assert cxr_phantom(1, shape=CXR_SHAPE, prevalence=0.0).labels[NO_FINDING[0]] is True
    full = cxr_phantom(1, shape=CXR_SHAPE, prevalence=1.0)
    assert all(full.labels[name] for name in CXR_FINDINGS)


def test_cxr_reader_boxes_lie_in_the_image_and_name_present_findings(cxr_all):
    height, width = CXR_SHAPE
    assert cxr_all.reader_boxes
    for box in cxr_all.reader_boxes:
        assert box.reader_id in {"R1", "R2", "R3"}
        assert box.finding in cxr_all.finding_masks
        assert 0 <= box.x_min < box.x_max <= width and 0 <= box.y_min < box.y_max <= height
        assert box.box == (box.x_min, box.y_min, box.x_max, box.y_max)


def test_cxr_readers_disagree_but_overlap_the_truth():
    boxes_by_finding: dict[str, list[tuple[float, ...]]] = {}
    for seed in range(6):
        phantom = cxr_phantom(seed, shape=CXR_SHAPE, findings=ALL_FINDINGS)
        for box in phantom.reader_boxes:
            boxes_by_finding.setdefault(box.finding, []).append(box.box)
            x_min, y_min, x_max, y_max = phantom.true_boxes[box.finding]
            # Every reader's box overlaps the finding it names.
            assert box.x_min < x_max and box.x_max > x_min and box.y_min < y_max and box.y_max > y_min
    for finding, boxes in boxes_by_finding.items():
        assert len(set(boxes)) > 1, finding


def test_cxr_tight_reader_draws_smaller_boxes_than_loose_reader():
    areas = {"R1": 0.0, "R2": 0.0}
    for seed in range(6):
        for box in cxr_phantom(seed, shape=CXR_SHAPE, findings=["Cardiomegaly", "Pleural effusion"]).reader_boxes:
            if box.reader_id in areas:
                areas[box.reader_id] += (box.x_max - box.x_min) * (box.y_max - box.y_min)
    assert areas["R1"] < areas["R2"]


def test_cxr_readers_sometimes_miss_subtle_findings_only():
    subtle = {"Nodule/Mass", "Pulmonary fibrosis", "Pleural thickening", "Lung Opacity"}
    missed_subtle = missed_obvious = 0
    for seed in range(30):
        phantom = cxr_phantom(seed, shape=(64, 64), findings=ALL_FINDINGS)
        marked = {(box.reader_id, box.finding) for box in phantom.reader_boxes}
        for reader in ("R1", "R2", "R3"):
            for finding in ALL_FINDINGS:
                if (reader, finding) not in marked:
                    missed_subtle += finding in subtle
                    missed_obvious += finding not in subtle
    assert missed_obvious == 0
    # 30 images x 3 readers x 4 subtle findings = 360 chances at a 10-15% miss rate.
    assert 10 < missed_subtle < 90


def test_cxr_number_of_readers():
    phantom = cxr_phantom(2, shape=CXR_SHAPE, findings=["Cardiomegaly"], n_readers=5)
    assert {box.reader_id for box in phantom.reader_boxes} == {"R1", "R2", "R3", "R4", "R5"}
    fewer = cxr_phantom(2, shape=CXR_SHAPE, findings=["Cardiomegaly"], n_readers=3)
    assert phantom.reader_boxes[:3] == fewer.reader_boxes  # adding readers keeps the first ones


def test_cxr_cardiomegaly_widens_the_heart():
    normal = cxr_phantom(6, shape=CXR_SHAPE, findings=[])
    enlarged = cxr_phantom(6, shape=CXR_SHAPE, findings=["Cardiomegaly"])
    assert normal.cardiothoracic_ratio < 0.5 < 0.55 < enlarged.cardiothoracic_ratio
    x_min, y_min, x_max, y_max = enlarged.true_boxes["Cardiomegaly"]
    row = int(y_min + y_max) // 2 - 3
    assert (enlarged.image[row] > 0.55).sum() > (normal.image[row] > 0.55).sum() + 5
    # The heart reaches further to the image right (the patient's left) than to the left.
    centre = CXR_SHAPE[1] / 2
    assert x_max - centre > centre - x_min


def test_cxr_aortic_enlargement_widens_the_knob():
    normal = cxr_phantom(6, shape=CXR_SHAPE, findings=[])
    enlarged = cxr_phantom(6, shape=CXR_SHAPE, findings=["Aortic enlargement"])
    knob = enlarged.finding_masks["Aortic enlargement"]
    assert enlarged.image[knob].mean() > normal.image[knob].mean()
    assert knob.any(axis=0).sum() >= 0.12 * CXR_SHAPE[1] / 2 * 1.2


@pytest.mark.parametrize("finding", FOCAL_FINDINGS)
def test_cxr_focal_findings_brighten_their_mask(finding):
    normal = cxr_phantom(9, shape=CXR_SHAPE, findings=[])
    with_finding = cxr_phantom(9, shape=CXR_SHAPE, findings=[finding])
    mask = with_finding.finding_masks[finding]
    assert with_finding.image[mask].mean() > normal.image[mask].mean() + 0.02
    # Away from the finding (its box grown by half its size) the image is untouched.
    grown = np.zeros_like(mask)
    x_min, y_min, x_max, y_max = (int(value) for value in with_finding.true_boxes[finding])
    margin_x, margin_y = 2 + (x_max - x_min) // 2, 2 + (y_max - y_min) // 2
    grown[max(0, y_min - margin_y) : y_max + margin_y, max(0, x_min - margin_x) : x_max + margin_x] = True
    assert np.array_equal(with_finding.image[~grown], normal.image[~grown])


def test_cxr_effusion_meniscus_climbs_the_chest_wall():
    for seed in range(4):
        phantom = cxr_phantom(seed, shape=CXR_SHAPE, findings=["Pleural effusion"])
        mask = phantom.finding_masks["Pleural effusion"]
        columns = np.flatnonzero(mask.any(axis=0))
        tops = np.array([np.flatnonzero(mask[:, column])[0] for column in columns])
        centre = CXR_SHAPE[1] / 2
        lateral_first = columns.mean() < centre  # right lung: chest wall on the image left
        wall_top, medial_top = (tops[0], tops[-1]) if lateral_first else (tops[-1], tops[0])
        assert wall_top < medial_top


def test_cxr_side_marker_changes_only_marker_pixels():
    plain = cxr_phantom(3, shape=CXR_SHAPE, prevalence=0.5)
    marked = cxr_phantom(3, shape=CXR_SHAPE, prevalence=0.5, confounders=("side_marker",))
    changed = plain.image != marked.image
    assert 0 < changed.sum() < 0.02 * changed.size
    rows, _ = np.nonzero(changed)
    assert rows.max() < 0.2 * CXR_SHAPE[0]
    assert marked.image[changed].min() >= 0.6 and marked.image[changed].max() == 1.0
    assert plain.labels == marked.labels and plain.reader_boxes == marked.reader_boxes
    assert marked.confounders == ("side_marker",)


@pytest.mark.parametrize(
    ("arguments", "pattern"),
    [
        ({"shape": (32, 128)}, r"\(32, 128\)"),
        ({"shape": (128,)}, r"\(128,\)"),
        ({"shape": (128, 128, 3)}, r"\(128, 128, 3\)"),
        ({"prevalence": 1.5}, r"prevalence.*1\.5"),
        ({"prevalence": -0.1}, r"prevalence.*-0\.1"),
        ({"n_readers": 0}, r"n_readers.*0"),
        ({"findings": ["Pneumothorax"]}, r"Pneumothorax.*Cardiomegaly"),
        ({"findings": ["No finding"]}, r"No finding"),
        ({"confounders": ["ruler"]}, r"ruler.*side_marker"),
    ],
)
def test_cxr_bad_input_raises_value_error_naming_the_value(arguments, pattern):
    with pytest.raises(ValueError, match=pattern):
        cxr_phantom(0, **{"shape": (64, 64), **arguments})


def test_cxr_class_ids_follow_vindr():
    assert CXR_FINDINGS["Aortic enlargement"] == 0 and CXR_FINDINGS["Pulmonary fibrosis"] == 13
    assert NO_FINDING == ("No finding", 14)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), prevalence=st.floats(0.0, 1.0), n_readers=st.integers(1, 4))
def test_cxr_reader_boxes_always_valid(seed, prevalence, n_readers):
    phantom = cxr_phantom(seed, shape=(64, 80), prevalence=prevalence, n_readers=n_readers)
    present = {name for name in CXR_FINDINGS if phantom.labels[name]}
    assert phantom.labels[NO_FINDING[0]] == (not present)
    for box in phantom.reader_boxes:
        assert box.finding in present
        assert 0 <= box.x_min < box.x_max <= 80 and 0 <= box.y_min < box.y_max <= 64
    assert 0.0 <= phantom.image.min() and phantom.image.max() <= 1.0

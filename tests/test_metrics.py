import math

import torch

from autobalance.metrics import classification_metrics


def test_balanced_shot_and_worst_class_metrics():
    targets = torch.tensor([0, 0, 1, 1, 2, 2, 2, 2])
    preds = torch.tensor([0, 0, 1, 0, 0, 0, 2, 2])
    m = classification_metrics(preds, targets, train_counts=[500, 50, 5])
    assert m["per_class_accuracy"] == [1.0, 0.5, 0.5]
    assert math.isclose(m["balanced_error"], 100 * (1 - 2 / 3))
    assert m["error"] == 100 * 3 / 8
    assert m["many_shot_error"] == 0.0 and m["medium_shot_error"] == 50.0 and m["few_shot_error"] == 50.0
    assert m["worst_class_error"] == 50.0
    assert "accuracy" not in m and "balanced_accuracy" not in m  # one name per number: errors in %


def test_groups_are_class_attribute_cells_and_attribute_numbers_are_kept():
    targets = torch.tensor([0, 1, 0, 1, 1])
    preds = torch.tensor([0, 1, 1, 1, 0])
    attribute = torch.tensor([0, 0, 1, 1, 1])
    m = classification_metrics(preds, targets, [10, 10], attribute, num_attribute_values=2)
    assert m["per_group_accuracy"] == [[1.0, 1.0], [0.0, 0.5]]  # rows: attribute, columns: class
    assert m["worst_group_error"] == 100.0 and m["average_group_error"] == 100 * (1 - 2.5 / 4)
    assert m["per_attribute_accuracy"] == [1.0, 1 / 3]
    assert math.isclose(m["worst_attribute_error"], 100 * 2 / 3)


def test_summary_table_of_a_thousand_classes_has_ten_frequency_bin_rows():
    from autobalance.reporting import summary_table

    k = 1000
    counts = list(range(k, 0, -1))
    accuracy = [1.0] * 100 + [0.0] * 900
    table = summary_table({"per_class_accuracy": accuracy, "balanced_error": 90.0}, [f"c{i}" for i in range(k)],
                          counts, {"offset": [0.5] * k})
    rows = [line for line in table.splitlines() if line.strip().startswith("ranks")]
    assert len(rows) == 10
    assert rows[0].split()[-3:] == ["950", "1.000", "0.500"]  # mean count of ranks 1-100, accuracy, offset
    assert rows[1].split()[-2] == "0.000"


def test_summary_table_columns_fit_their_names_and_show_small_decays():
    from autobalance.reporting import summary_table

    table = summary_table({"per_class_accuracy": [0.5, 0.6]}, ["a", "b"], [10, 2],
                          {"label_smoothing": [0.05, 0.0], "weight_decay": [1e-4, 3.5e-5]})
    header, _, first, second = table.splitlines()[:4]
    assert header.endswith("label_smoothing weight_decay") and len(first) == len(header)
    assert first.split()[-2:] == ["0.050", "1.00e-04"] and second.split()[-1] == "3.50e-05"


def test_cvar_spread_and_weighted_error_of_the_class_errors():
    from autobalance.metrics import class_error_std, cvar_error, weighted_error

    accuracy = [1.0, 0.9, 0.5, 0.2, float("nan")]  # errors 0, 10, 50, 80 %; the last class is absent
    assert math.isclose(cvar_error(accuracy, 0.2), 80.0)  # ceil(0.2 * 4) = 1 class
    assert math.isclose(cvar_error(accuracy, 0.5), 65.0)  # the worst two
    assert math.isclose(cvar_error(accuracy, 1.0), 35.0)  # the balanced error
    errors = torch.tensor([0.0, 10.0, 50.0, 80.0], dtype=torch.float64)
    assert math.isclose(class_error_std(accuracy), float(errors.std(correction=0)))
    assert math.isclose(weighted_error(accuracy, [1, 1, 2, 0, 9]), (10 + 100) / 4)


def test_every_evaluation_reports_the_cvar_at_a_fifth_and_the_spread():
    targets = torch.arange(10).repeat_interleave(2)
    preds = targets.clone()
    preds[:4] = 9  # classes 0 and 1 wrong on both examples
    m = classification_metrics(preds, targets, [10] * 10)
    assert m["cvar_error"] == 100.0 and math.isclose(m["balanced_error"], 20.0)
    assert math.isclose(m["class_error_std"], 40.0)

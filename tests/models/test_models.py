import pytest
import torch

from autobalance.models import NormedLinear, create_model


@pytest.mark.parametrize(
    ("name", "shape"),
    [("resnet32", (3, 32, 32)), ("resnet8", (3, 32, 32)), ("cnn28", (1, 28, 28)), ("cnn1d", (40,)), ("mlp", (7,))],
)
def test_models_map_inputs_to_logits_and_expose_features(name, shape):
    model = create_model(name, shape, num_classes=5)
    x = torch.randn(3, *shape)
    assert model(x).shape == (3, 5)
    torch.testing.assert_close(model.head(model.features(x)), model(x))


def test_resnet32_matches_the_ldam_drw_size():
    n = sum(p.numel() for p in create_model("resnet32", (3, 32, 32), 10).parameters())
    assert 0.45e6 < n < 0.47e6


def test_resnet8_has_one_block_per_stage_of_resnet32s_widths():
    small, large = (create_model(name, (3, 32, 32), 10).body for name in ("resnet8", "resnet32"))
    assert len(small.layers) == 3 and len(large.layers) == 15
    assert [b.conv2.out_channels for b in small.layers] == [16, 32, 64]
    assert small.out_dim == large.out_dim == 64


def test_normalized_head_outputs_cosines():
    head = NormedLinear(16, 4)
    out = head(torch.randn(8, 16) * 100)
    assert out.abs().max() <= 1 + 1e-6
    model = create_model("mlp", (7,), 4, normalized_head=True)
    assert isinstance(model.head, NormedLinear)


def test_unknown_model_is_named():
    with pytest.raises(ValueError, match="model.name='vgg': expected one of resnet32"):
        create_model("vgg", (3, 32, 32), 10)


def test_each_model_owns_its_standard_width_and_checks_it():
    from autobalance.config import ConfigError, ModelConfig
    from autobalance.models import model_config

    assert [model_config(n).width for n in ("mlp", "resnet8", "resnet32", "cnn28", "cnn1d")] == [128, 16, 16, 32, 32]
    assert create_model(ModelConfig(name="mlp"), (7,), 4).head.in_features == 128  # a bare ModelConfig: standard
    with pytest.raises(ConfigError, match="model.width=0: expected an integer >= 1"):
        model_config("resnet8", width=0)
    with pytest.raises(ConfigError, match="model.depth=3: model=mlp has no such setting"):
        model_config("mlp", depth=3)


def test_a_model_that_cannot_take_the_datas_examples_is_refused_naming_those_that_can():
    import pytest

    from autobalance.config import ConfigError

    with pytest.raises(ConfigError, match=r"model.name='resnet32' takes images \(C, H, W\), but the data's examples "
                                          r"have shape \(14,\): expected a model for them \(cnn1d, mlp\)"):
        create_model("resnet32", (14,), 3)
    with pytest.raises(ConfigError, match=r"model.name='cnn1d' takes sequences"):
        create_model("cnn1d", (3, 8, 8), 3)
    assert create_model("mlp", (1, 8, 8), 3, width=4)(torch.zeros(2, 1, 8, 8)).shape == (2, 3)  # images flattened

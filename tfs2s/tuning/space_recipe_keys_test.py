import keras_tuner as kt

from tfs2s.config import RunConfig
from tfs2s.tuning import space as S

RECIPE_KEYS = """
model.recurrent_dropout: {type: float, min: 0.0, max: 0.3, step: 0.1}
model.layer_norm: {type: boolean}
train.optimizer: {type: choice, values: [adam, adamw]}
train.weight_decay: {type: float, min: 1.0e-5, max: 1.0e-2, sampling: log}
train.clipnorm: {type: choice, values: [0.5, 1.0]}
train.modality_dropout: {type: float, min: 0.0, max: 0.3, step: 0.1}
train.modality_dropout_keep: {type: choice, values: [text, none]}
train.select_metric: {type: choice, values: [loss, mae, f1_2]}
"""


def test_the_recipe_keys_are_searchable(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text(RECIPE_KEYS)
    space = S.load_space(path)
    hp = kt.HyperParameters()
    values = {key: param.declare(hp) for key, param in space.items()}
    cfg = RunConfig(topology="baseline_TA").replace(**values)
    assert cfg.train.select_metric == "loss" and cfg.train.optimizer == "adam"
    assert cfg.train.weight_decay == 1e-5 and cfg.train.clipnorm == 0.5
    assert cfg.train.modality_dropout_keep == "text"
    # modality dropout is read only where the sentiment input joins several modalities
    assert "train.modality_dropout" in S.applicable(space, cfg)
    assert "train.modality_dropout" not in S.applicable(space, cfg.replace(topology="T_V"))
    assert "train.modality_dropout_keep" in S.applicable(space, cfg)
    assert "train.modality_dropout_keep" not in S.applicable(space, cfg.replace(topology="T_V"))

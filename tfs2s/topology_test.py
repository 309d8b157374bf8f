import pytest

from tfs2s.topology import GRAMMAR, PAPER_TABLES, PAPER_TOPOLOGIES, parse_topology, table_of


def test_every_poster_row_is_registered():
    assert len(PAPER_TABLES["unimodal"]) == 3
    assert len(PAPER_TABLES["bimodal"]) == 9  # 3 baselines + 6 X_Y pairs
    assert len(PAPER_TABLES["trimodal"]) == 14  # baseline + 13 seq2seq rows
    assert len(set(PAPER_TOPOLOGIES)) == len(PAPER_TOPOLOGIES) == 26


@pytest.mark.parametrize(
    "name, kind, source, target, intermediate, notation",
    [
        ("baseline_T", "baseline", ("T",), (), (), "Text (T)"),
        ("baseline_TAV", "baseline", ("T", "A", "V"), (), (), "concat(T + A + V)"),
        ("T_V", "seq2seq", ("T",), ("V",), (), "T -> V"),
        ("concat_TV_A", "seq2seq", ("T", "V"), ("A",), (), "concat(T, V) -> A"),
        ("T_concat_AV", "seq2seq", ("T",), ("A", "V"), (), "T -> concat(A, V)"),
        (
            "concat_TA_concat_TV",
            "seq2seq",
            ("T", "A"),
            ("T", "V"),
            (),
            "concat(T, A) -> concat(T, V)",
        ),
        ("embed_AV_T", "hierarchical", ("A",), ("T",), ("V",), "embed(A, V) -> T"),
        ("embed_AT_V", "hierarchical", ("A",), ("V",), ("T",), "embed(A, T) -> V"),
    ],
)
def test_parse(name, kind, source, target, intermediate, notation):
    t = parse_topology(name)
    assert (t.kind, t.source, t.target, t.intermediate, t.notation) == (
        kind,
        source,
        target,
        intermediate,
        notation,
    )


def test_embed_needs_only_its_first_modality_at_inference():
    t = parse_topology("embed_AV_T")
    assert t.inference_modalities == ("audio",)
    assert t.training_modalities == ("text", "audio", "video")


def test_other_well_formed_names_work():
    assert parse_topology("V_concat_TA").target == ("T", "A")
    assert parse_topology("concat_TAV_T").source == ("T", "A", "V")
    assert table_of("V_concat_TA") is None


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "foo",
        "T",
        "T_T",
        "T_V_A",
        "baseline_TT",
        "baseline_X",
        "concat_T_A",
        "embed_T_A",
        "embed_TAV_A",
        "T_embed_AV",
        "embed_AV_V",
        "baseline",
        "t_v",
        "concat_TA",
    ],
)
def test_malformed_names_are_rejected_with_the_grammar(bad):
    with pytest.raises(ValueError, match="malformed topology") as e:
        parse_topology(bad)
    assert bad == "" or repr(bad) in str(e.value)
    if bad not in ("T_T", "embed_AV_V"):
        assert GRAMMAR in str(e.value)

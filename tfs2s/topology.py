"""Topology names: the CLI contract for which model a run trains.

Grammar (modality codes ``T``, ``A``, ``V``; letters inside a group are distinct)::

    baseline_<1-3 codes>                  LSTM regressor over one modality or a concat
    <source>_<target>                     seq2seq modality translation
        source := X | concat_<2-3 codes> | embed_<XY>
        target := X | concat_<2-3 codes>

``embed_XY_Z`` is the poster's hierarchical model: stage 1 translates X to Y,
stage 2 encodes stage 1's encoder outputs and decodes Z. At inference only X is read.
"""

from __future__ import annotations

import dataclasses

from tfs2s import modalities as M

GRAMMAR = (
    "baseline_<codes> | <source>_<target> where source := X | concat_<codes> | embed_<XY>, "
    "target := X | concat_<codes>; codes are distinct letters of T (text), A (audio), "
    "V (video), e.g. baseline_TAV, T_V, concat_TV_A, T_concat_AV, concat_TA_concat_TV, embed_AV_T"
)


@dataclasses.dataclass(frozen=True)
class Topology:
    """A parsed topology name.

    Attributes:
        name: canonical name, e.g. ``"embed_AV_T"``.
        kind: ``"baseline"``, ``"seq2seq"`` or ``"hierarchical"``.
        source: codes read at inference (baseline: its modalities; embed_XY_Z: ``(X,)``).
        target: codes decoded by the (last) translator; empty for baselines.
        intermediate: embed_XY_Z's ``(Y,)``; empty otherwise.
    """

    name: str
    kind: str
    source: tuple[str, ...]
    target: tuple[str, ...] = ()
    intermediate: tuple[str, ...] = ()

    @property
    def is_baseline(self) -> bool:
        return self.kind == "baseline"

    @property
    def inference_modalities(self) -> tuple[str, ...]:
        """Feature names the trained sentiment model reads."""
        return tuple(M.name_of(c) for c in self.source)

    @property
    def training_modalities(self) -> tuple[str, ...]:
        """Feature names needed to train (sources, intermediate and targets)."""
        codes = set(self.source) | set(self.target) | set(self.intermediate)
        return tuple(M.NAMES[c] for c in M.CODES if c in codes)

    @property
    def notation(self) -> str:
        """Poster notation, e.g. ``embed(A, V) -> T`` or ``concat(T + V)``."""
        if self.kind == "baseline":
            if len(self.source) == 1:
                return f"{M.LONG_NAMES[self.source[0]]} ({self.source[0]})"
            return "concat(" + " + ".join(self.source) + ")"
        if self.kind == "hierarchical":
            src = f"embed({self.source[0]}, {self.intermediate[0]})"
        else:
            src = _group(self.source)
        return f"{src} -> {_group(self.target)}"

    @property
    def n_modalities(self) -> int:
        return len(self.training_modalities)


def _group(codes: tuple[str, ...]) -> str:
    return codes[0] if len(codes) == 1 else "concat(" + ", ".join(codes) + ")"


def _codes(token: str, name: str, lo: int, hi: int) -> tuple[str, ...]:
    ok = (
        lo <= len(token) <= hi
        and all(c in M.CODES for c in token)
        and len(set(token)) == len(token)
    )
    if not ok:
        raise ValueError(
            f"malformed topology {name!r}: {token!r} should be {lo}-{hi} distinct modality "
            f"codes; grammar: {GRAMMAR}"
        )
    return tuple(token)


def parse_topology(name: str) -> Topology:
    """Parse a topology name; raises ValueError with the grammar if malformed."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"malformed topology {name!r}; grammar: {GRAMMAR}")
    tokens = name.split("_")
    if tokens[0] == "baseline":
        if len(tokens) != 2:
            raise ValueError(f"malformed topology {name!r}; grammar: {GRAMMAR}")
        return Topology(name, "baseline", _codes(tokens[1], name, 1, 3))

    def group(pos: int, allow_embed: bool) -> tuple[int, str, tuple[str, ...]]:
        if pos >= len(tokens):
            raise ValueError(f"malformed topology {name!r}: it ends early; grammar: {GRAMMAR}")
        tok = tokens[pos]
        if tok == "concat":
            if pos + 1 >= len(tokens):
                raise ValueError(
                    f"malformed topology {name!r}: concat needs codes; grammar: {GRAMMAR}"
                )
            return pos + 2, "concat", _codes(tokens[pos + 1], name, 2, 3)
        if tok == "embed":
            if not allow_embed:
                raise ValueError(
                    f"malformed topology {name!r}: embed can only be a source; grammar: {GRAMMAR}"
                )
            if pos + 1 >= len(tokens):
                raise ValueError(
                    f"malformed topology {name!r}: embed needs two codes; grammar: {GRAMMAR}"
                )
            return pos + 2, "embed", _codes(tokens[pos + 1], name, 2, 2)
        return pos + 1, "single", _codes(tok, name, 1, 1)

    pos, skind, scodes = group(0, allow_embed=True)
    pos, _, tcodes = group(pos, allow_embed=False)
    if pos != len(tokens):
        raise ValueError(
            f"malformed topology {name!r}: unexpected {'_'.join(tokens[pos:])!r}; grammar: {GRAMMAR}"
        )
    if skind == "embed":
        if tcodes == (scodes[1],):
            raise ValueError(f"malformed topology {name!r}: embed_XY_Z needs Z different from Y")
        return Topology(name, "hierarchical", (scodes[0],), tcodes, (scodes[1],))
    # Order does not matter: concat_TV_concat_VT is the same identity translation as T_T.
    if set(scodes) == set(tcodes):
        raise ValueError(f"malformed topology {name!r}: source and target are the same modalities")
    return Topology(name, "seq2seq", scodes, tcodes)


#: The poster's rows, table by table, in the poster's order. A registry that refuses
#: duplicates; any other well-formed name still works through :func:`parse_topology`.
PAPER_TABLES: dict[str, tuple[str, ...]] = {}


def _register(table: str, names: tuple[str, ...]) -> None:
    seen = {n for t in PAPER_TABLES.values() for n in t}
    for n in names:
        if n in seen:
            raise ValueError(f"topology {n!r} is registered twice")
        parse_topology(n)
        seen.add(n)
    PAPER_TABLES[table] = names


_register("unimodal", ("baseline_T", "baseline_A", "baseline_V"))
_register(
    "bimodal",
    ("baseline_TV", "baseline_TA", "baseline_AV", "T_V", "T_A", "A_T", "A_V", "V_T", "V_A"),
)
_register(
    "trimodal",
    (
        "baseline_TAV",
        "embed_TV_A",
        "embed_TA_V",
        "embed_AV_T",
        "embed_AT_V",
        "embed_VT_A",
        "embed_VA_T",
        "concat_TV_A",
        "concat_AT_V",
        "concat_VA_T",
        "T_concat_AV",
        "A_concat_TV",
        "concat_TA_concat_TV",
        "concat_TV_concat_TA",
    ),
)

#: Every registered name in poster order.
PAPER_TOPOLOGIES: tuple[str, ...] = tuple(n for t in PAPER_TABLES.values() for n in t)


def table_of(name: str) -> str | None:
    for table, names in PAPER_TABLES.items():
        if name in names:
            return table
    return None

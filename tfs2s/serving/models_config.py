"""TF-Serving ``models.config``: a ``ModelServerConfig`` text proto for several models.

Each exported model ``<root>/<name>/<version>/`` becomes one ``config`` entry of the
``model_config_list``, with ``base_path`` as the server sees it (``/models/<name>``
when ``<root>`` is mounted at ``/models``) and a ``model_version_policy``: the
latest version(s) (``latest { num_versions: n }``), ``all {}`` or
``specific { versions: ... }``, plus optional ``version_labels`` (e.g. stable/canary).
The text is produced by the ``tensorflow_serving.config`` protos themselves.
"""

from __future__ import annotations

import dataclasses
import os
import posixpath
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

LATEST = "latest"
ALL = "all"

CONTAINER_ROOT = "/models"
#: The file ``tfs2s models-config`` writes beside the models by default.
MODELS_CONFIG_FILE = "models.config"


def versions(model_dir: str | os.PathLike) -> list[int]:
    """Versions present under ``model_dir`` (sub-directories named by integers), sorted."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        return []
    # ASCII digits only, as TF-Serving reads versions ('²' and '١٢' pass str.isdigit).
    return sorted(
        int(p.name)
        for p in model_dir.iterdir()
        if p.is_dir() and p.name.isascii() and p.name.isdigit()
    )


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """One served model.

    Attributes:
        name: the model name clients use (``/v1/models/<name>``, ``model_spec.name``).
        base_path: the directory holding its versions, as the server sees it.
        policy: ``"latest"``, ``"all"`` or a tuple of specific versions.
        num_latest: how many of the newest versions ``"latest"`` serves.
        labels: version label -> version (each must be served).
    """

    name: str
    base_path: str
    policy: str | tuple[int, ...] = LATEST
    num_latest: int = 1
    labels: Mapping[str, int] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.policy, str):
            if self.policy not in (LATEST, ALL):
                raise ValueError(
                    f"model {self.name}: version policy must be {LATEST!r}, {ALL!r} or a list "
                    f"of versions, found {self.policy!r}"
                )
        elif not self.policy or any(int(v) < 1 for v in self.policy):
            raise ValueError(
                f"model {self.name}: specific versions must be integers >= 1, found {self.policy}"
            )
        if self.num_latest < 1:
            raise ValueError(f"model {self.name}: num_latest must be >= 1, found {self.num_latest}")
        if self.labels and not isinstance(self.policy, tuple):
            raise ValueError(
                f"model {self.name}: version labels need a specific version policy "
                f"(labels {dict(self.labels)}, policy {self.policy!r})"
            )
        for label, version in self.labels.items():
            if version not in self.policy:
                raise ValueError(
                    f"model {self.name}: label {label!r} points to version {version}, "
                    f"which is not served (served: {list(self.policy)})"
                )


def model_server_config(entries: Iterable[ModelEntry]):
    """A ``tensorflow.serving.ModelServerConfig`` proto listing ``entries``."""
    from tensorflow_serving.config import model_server_config_pb2

    config = model_server_config_pb2.ModelServerConfig()
    seen = set()
    for e in entries:
        if e.name in seen:
            raise ValueError(f"model {e.name} is listed twice")
        seen.add(e.name)
        c = config.model_config_list.config.add()
        c.name = e.name
        c.base_path = e.base_path
        c.model_platform = "tensorflow"
        policy = c.model_version_policy
        if e.policy == LATEST:
            policy.latest.num_versions = e.num_latest
        elif e.policy == ALL:
            policy.all.SetInParent()
        else:
            policy.specific.versions.extend(sorted(int(v) for v in e.policy))
        for label, version in sorted(e.labels.items()):
            c.version_labels[label] = int(version)
    if not seen:
        raise ValueError("models.config needs at least one model")
    return config


def models_config_text(entries: Iterable[ModelEntry]) -> str:
    """The ASCII ``ModelServerConfig`` that ``--model_config_file`` reads."""
    from google.protobuf import text_format

    return text_format.MessageToString(model_server_config(entries))


def parse_model_arg(text: str) -> tuple[str, str | tuple[int, ...]]:
    """``NAME`` (latest), ``NAME:all`` or ``NAME:3,4`` (specific) -> (name, policy)."""
    name, _, policy = text.partition(":")
    if not name:
        raise ValueError(f"--model {text!r}: expected NAME, NAME:all, NAME:latest or NAME:V1,V2")
    if not policy or policy == LATEST:
        return name, LATEST
    if policy == ALL:
        return name, ALL
    try:
        chosen = tuple(int(v) for v in policy.split(","))
    except ValueError:
        raise ValueError(
            f"--model {text!r}: expected NAME, NAME:all, NAME:latest or NAME:V1,V2"
        ) from None
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"--model {text!r}: a version is listed twice")
    return name, chosen


def parse_label_arg(text: str) -> tuple[str, str, int]:
    """``NAME:LABEL=VERSION`` -> (name, label, version)."""
    name, _, rest = text.partition(":")
    label, _, version = rest.partition("=")
    if not (name and label and version.isdigit()):
        raise ValueError(f"--label {text!r}: expected NAME:LABEL=VERSION, e.g. tfs2s:stable=2")
    return name, label, int(version)


def entries_from_root(
    root: str | os.PathLike,
    models: Sequence[tuple[str, str | tuple[int, ...]]] = (),
    *,
    container_root: str = CONTAINER_ROOT,
    num_latest: int = 1,
    labels: Sequence[tuple[str, str, int]] = (),
) -> list[ModelEntry]:
    """Entries for exported models under ``root``, checked against what is on disk.

    Args:
        root: the serving root holding ``<name>/<version>/`` directories.
        models: (name, policy) pairs; empty means every model under ``root``, latest.
        container_root: where ``root`` is mounted in the server.
        num_latest: versions served by a ``"latest"`` policy.
        labels: (name, label, version) triples.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"serving root {root} does not exist; export a model first")
    if not models:
        models = [(p.name, LATEST) for p in sorted(root.iterdir()) if versions(p)]
        if not models:
            raise ValueError(f"serving root {root}: no exported model (no <name>/<version>/ dir)")
    by_model: dict[str, dict[str, int]] = {}
    for name, label, version in labels:
        given = by_model.setdefault(name, {})
        if label in given and given[label] != version:
            raise ValueError(
                f"--label {name}:{label} is given twice ({given[label]} and {version}); "
                "expected one version per label"
            )
        given[label] = version
    unknown = set(by_model) - {name for name, _ in models}
    if unknown:
        raise ValueError(f"labels given for models that are not listed: {sorted(unknown)}")
    entries = []
    for name, policy in models:
        found = versions(root / name)
        if not found:
            raise ValueError(f"model {name}: {root / name} holds no exported version")
        if isinstance(policy, tuple):
            missing = sorted(set(policy) - set(found))
            if missing:
                raise ValueError(
                    f"model {name}: versions {missing} are not in {root / name} (found {found})"
                )
        entries.append(
            ModelEntry(
                name=name,
                base_path=posixpath.join(container_root, name),
                policy=policy,
                num_latest=num_latest,
                labels=by_model.get(name, {}),
            )
        )
    return entries

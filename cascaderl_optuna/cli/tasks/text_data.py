"""Labelled sentences for the ``text_classification`` task: a folder of TSV/CSV files or a dataset name.

:func:`load_text_splits` returns train, validation and test sentences with integer labels.

A folder (e.g. GLUE's SST-2 as ``train.tsv``, ``dev.tsv``, ``test.tsv``) holds one file per
split, named ``train``, ``dev``/``validation``/``valid``/``val`` and ``test``, each ``.tsv`` (tab
separated, no quoting: GLUE's sentences contain bare ``"``) or ``.csv`` (comma separated, quoted
as usual). The first line is a header: the label column is named ``label`` (or ``labels``), the
text column ``sentence``, ``text``, ``content``, ``review`` or ``sentence1``, or is the only other
column. Labels may be numbers or names; they are mapped to 0..K-1 in sorted order of the training
labels.

The test split must have labels, since the before/after report measures on it. GLUE's official
SST-2 ``test.tsv`` has none (its columns are ``index`` and ``sentence``); a test file without a
label column, or without a test file at all, is replaced by a held-out part of the validation
split (half of it, fixed seed), and :attr:`TextSplits.test_source` says so. Without a validation
file, 10% of the training sentences become the validation split and, if needed, another 10% the
test split.

Anything that is not a folder is taken as a Hugging Face dataset name (``glue/sst2`` style
``NAME`` or ``NAME/CONFIG``), loaded with the optional ``datasets`` library, whose splits
(``train``, ``validation``, ``test``) follow the same rules (GLUE's test labels are -1: held out
from validation instead).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
import random
from typing import Any


TEXT_COLUMNS = ("sentence", "text", "content", "review", "sentence1")
LABEL_COLUMNS = ("label", "labels")
SPLIT_FILES = {
    "train": ("train",),
    "val": ("dev", "validation", "valid", "val"),
    "test": ("test",),
}


class TextDataError(ValueError):
    """The data cannot be read as labelled sentences; the message says what to fix."""


@dataclass
class TextSplits:
    """Sentences and integer labels per split, and where the test split came from."""

    train: tuple[list[str], list[int]]
    val: tuple[list[str], list[int]]
    test: tuple[list[str], list[int]]
    label_names: list[str]
    source: str
    test_source: str


def _read_table(path: Path) -> tuple[list[str], list[str] | None]:
    """``(sentences, labels or None)`` of one TSV/CSV file with a header line."""
    with path.open(encoding="utf-8", newline="") as f:
        if path.suffix == ".tsv":
            rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
        else:
            rows = list(csv.reader(f))
    rows = [r for r in rows if r]
    if len(rows) < 2:
        raise TextDataError(f"{path}: needs a header line and at least one row.")
    header = [h.strip().lower() for h in rows[0]]
    label_col = next((header.index(c) for c in LABEL_COLUMNS if c in header), None)
    text_col = next((header.index(c) for c in TEXT_COLUMNS if c in header), None)
    if text_col is None:
        others = [i for i, h in enumerate(header) if i != label_col and h not in ("index", "idx", "id")]
        if len(others) != 1:
            raise TextDataError(
                f"{path}: cannot tell the text column from the header {rows[0]}; name it one of "
                f"{', '.join(TEXT_COLUMNS)} (and the label column 'label')."
            )
        text_col = others[0]
    width = len(header)
    bad = next((n for n, r in enumerate(rows[1:], start=2) if len(r) != width), None)
    if bad is not None:
        raise TextDataError(
            f"{path}, line {bad}: {len(rows[bad - 1])} fields where the header has {width} "
            f"({'tab' if path.suffix == '.tsv' else 'comma'} separated)."
        )
    texts = [r[text_col] for r in rows[1:]]
    labels = None if label_col is None else [r[label_col].strip() for r in rows[1:]]
    if labels is not None and all(v in ("", "-1") for v in labels):
        labels = None  # GLUE-style hidden test labels
    return texts, labels


def _find(folder: Path, split: str) -> Path | None:
    for stem in SPLIT_FILES[split]:
        for ext in (".tsv", ".csv"):
            if (folder / (stem + ext)).is_file():
                return folder / (stem + ext)
    return None


def _split_off(
    texts: list[str], labels: list[str], share: float, seed: int
) -> tuple[tuple[list[str], list[str]], tuple[list[str], list[str]]]:
    """``(kept, held out)``: a ``share`` of the rows picked at random with ``seed``."""
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    n_out = max(1, int(round(share * len(texts))))
    out, kept = sorted(order[:n_out]), sorted(order[n_out:])
    return ([texts[i] for i in kept], [labels[i] for i in kept]), ([texts[i] for i in out], [labels[i] for i in out])


def _from_folder(folder: Path) -> tuple[dict[str, tuple[list[str], list[str] | None]], str]:
    found = {s: _find(folder, s) for s in SPLIT_FILES}
    if found["train"] is None:
        raise TextDataError(
            f"--data {folder}: no train.tsv or train.csv in this folder; it needs a training file "
            "(and ideally dev.tsv/validation.csv and test.tsv with labels)."
        )
    return {s: _read_table(p) for s, p in found.items() if p is not None}, str(folder)


def _from_hub(name: str) -> tuple[dict[str, tuple[list[str], list[str] | None]], str]:
    try:
        import datasets
    except ImportError:
        raise TextDataError(
            f"--data {name}: not a folder here, and reading it as a Hugging Face dataset name needs "
            "the datasets library (pip install datasets) and access to the Hub or its cache. "
            "Otherwise pass a folder of train/dev/test .tsv or .csv files (e.g. ../shared/data/sst2)."
        ) from None
    path, _, config = (
        name.partition("/") if name.count("/") == 1 and name.split("/")[0] in ("glue", "super_glue") else (name, "", "")
    )
    try:
        loaded = datasets.load_dataset(path, config or None)
    except Exception as exc:
        raise TextDataError(
            f"--data {name}: could not load it as a Hugging Face dataset ({type(exc).__name__}: {exc}). "
            "Check the name and your network or HF_DATASETS_OFFLINE cache, or pass a folder of "
            "train/dev/test .tsv or .csv files."
        ) from None
    out: dict[str, tuple[list[str], list[str] | None]] = {}
    for split, names in (("train", ("train",)), ("val", ("validation", "dev", "valid")), ("test", ("test",))):
        key = next((n for n in names if n in loaded), None)
        if key is None:
            continue
        ds: Any = loaded[key]
        cols = [c.lower() for c in ds.column_names]
        text = next((ds.column_names[cols.index(c)] for c in TEXT_COLUMNS if c in cols), None)
        label = next((ds.column_names[cols.index(c)] for c in LABEL_COLUMNS if c in cols), None)
        if text is None:
            raise TextDataError(
                f"--data {name}: split {key!r} has no text column among {', '.join(TEXT_COLUMNS)}; "
                f"it has {ds.column_names}."
            )
        labels = None if label is None else [str(v) for v in ds[label]]
        if labels is not None and all(v == "-1" for v in labels):
            labels = None
        out[split] = ([str(t) for t in ds[text]], labels)
    if "train" not in out:
        raise TextDataError(f"--data {name}: the dataset has no 'train' split (it has {list(loaded)}).")
    return out, f"Hugging Face dataset {name}"


def load_text_splits(data: str, seed: int = 0) -> TextSplits:
    """Train/validation/test sentences with integer labels from a folder or a dataset name.

    Raises:
        TextDataError: unreadable files, missing columns or labels, or a dataset that cannot be
            loaded; the message says what to pass instead.
    """
    folder = Path(data).expanduser()
    if folder.is_dir():
        tables, source = _from_folder(folder)
    elif folder.exists():
        raise TextDataError(
            f"--data {data}: give the folder that holds train/dev/test .tsv or .csv files, not a single file."
        )
    else:
        tables, source = _from_hub(data)
    train_texts, train_labels = tables["train"]
    if train_labels is None:
        raise TextDataError(f"--data {data}: the training split has no 'label' column.")
    test_source = "the labelled test split"
    if "val" in tables and tables["val"][1] is None:
        raise TextDataError(f"--data {data}: the validation split has no 'label' column.")
    if "val" in tables:
        val = (tables["val"][0], tables["val"][1])
    else:
        (train_texts, train_labels), val = _split_off(train_texts, train_labels, 0.1, seed)
    if "test" in tables and tables["test"][1] is not None:
        test = (tables["test"][0], tables["test"][1])
    else:
        why = "has no labels" if "test" in tables else "is missing"
        if "val" in tables:
            val, test = _split_off(val[0], val[1], 0.5, seed + 1)  # type: ignore[arg-type]
            test_source = f"half of the validation split, held out (fixed seed), because the test split {why}"
        else:
            (train_texts, train_labels), test = _split_off(train_texts, train_labels, 0.1 / 0.9, seed + 1)
            test_source = f"10% of the training split, held out (fixed seed), because the test split {why}"
    names = sorted(set(train_labels), key=lambda v: (0, float(v)) if _is_number(v) else (1, v))
    if len(names) < 2:
        raise TextDataError(
            f"--data {data}: the training labels have a single class ({names}); classification needs two or more."
        )
    index = {v: i for i, v in enumerate(names)}

    def encode(split: str, labels: list[str]) -> list[int]:
        unknown = sorted(set(labels) - set(index))
        if unknown:
            raise TextDataError(
                f"--data {data}: the {split} split has labels {unknown[:5]} that the training split does not."
            )
        return [index[v] for v in labels]

    return TextSplits(
        train=(list(train_texts), encode("train", list(train_labels))),
        val=(list(val[0]), encode("validation", list(val[1]))),  # type: ignore[arg-type]
        test=(list(test[0]), encode("test", list(test[1]))),
        label_names=[str(n) for n in names],
        source=source,
        test_source=test_source,
    )


def _is_number(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True

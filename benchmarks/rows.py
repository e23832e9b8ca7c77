"""The file format of the result rows: where a cell's rows live, how they are read, written and appended.

One row is one finished study (a JSON object, see :func:`benchmarks.runner.run_study`). The rows of one (suite,
problem, sampler) cell live in ``<results>/<suite>/<problem>/<sampler>.jsonl.gz``, and the studies in which the
sampler raised in ``<sampler>.errors.jsonl.gz``: JSON lines, one row a line, gzip'd. The trial lists compress
about six-fold, which is what keeps the committed results small enough to live in the repository.

Every file is written whole, by :func:`write`, from its rows: ``json.dumps(row) + "\\n"`` each, one gzip member at
compression level 9 with ``mtime=0`` and no file name in the header, so the same rows always give the same bytes (a
re-run that reproduces a study leaves git nothing to commit). :func:`append` reads the file, adds the row and writes
it again through a temporary file and a rename: a study is one row, a cell holds at most a few dozen, and an
interrupted run leaves either the old file or the new one, never a truncated gzip member that would make the cell
unreadable (appending members in place would). A run stays resumable: the runner sees which seeds a cell holds.

Plain ``<sampler>.jsonl`` files are read too: the committed rows of revisions before this format
(``benchmarks.compare_revisions`` reads those), and rows written by hand in a test. Whatever writes a cell turns it
into ``.jsonl.gz`` and removes the plain file; ``python -m benchmarks.rows convert [FOLDER]`` converts a whole tree.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from collections.abc import Iterator
import gzip
import json
import os
from pathlib import Path
import sys
import zlib


SUFFIX = ".jsonl.gz"
PLAIN_SUFFIX = ".jsonl"
ERRORS = ".errors"  # before the suffix: ``<sampler>.errors.jsonl.gz``
_GZIP_MAGIC = b"\x1f\x8b"


def file_name(sampler: str, *, error: bool = False) -> str:
    """``<sampler>.jsonl.gz``, or ``<sampler>.errors.jsonl.gz`` for the studies in which the sampler raised."""
    return f"{sampler}{ERRORS if error else ''}{SUFFIX}"


def path(results: Path, suite: str, problem: str, sampler: str, *, error: bool = False) -> Path:
    """Where the cell's rows are written: finished studies, or (``error``) studies in which the sampler raised."""
    return Path(results) / suite / problem / file_name(sampler, error=error)


def parse_name(name: str) -> tuple[str, bool] | None:
    """``(sampler, error)`` of a rows file's name (gzip'd or plain), or None for any other file."""
    for suffix in (SUFFIX, PLAIN_SUFFIX):
        if name.endswith(suffix):
            stem = name[: -len(suffix)]
            return (stem.removesuffix(ERRORS), True) if stem.endswith(ERRORS) else (stem, False)
    return None


def _plain(p: Path) -> Path:
    return p.with_name(p.name.removesuffix(".gz")) if p.name.endswith(SUFFIX) else p


def existing(p: Path) -> Path | None:
    """The file that holds the rows of ``p``'s cell: ``p`` itself or its plain twin; an error if both do."""
    p = Path(p)
    gz = p if p.name.endswith(SUFFIX) else p.with_name(p.name + ".gz")
    plain = _plain(gz)
    if gz.exists() and plain.exists():
        raise ValueError(
            f"both {gz} and {plain} hold rows of one cell: keep one (python -m benchmarks.rows convert "
            f"{gz.parent} folds a plain file into its .jsonl.gz only where no .jsonl.gz exists yet)"
        )
    return gz if gz.exists() else plain if plain.exists() else None


def parse(data: bytes, source: str = "rows") -> list[dict]:
    """The rows in ``data``, gzip'd (any number of members) or plain JSON lines; ``source`` names it in errors."""
    try:
        if data[:2] == _GZIP_MAGIC:
            data = gzip.decompress(data)
        return [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(
            f"{source} is not a readable rows file ({type(exc).__name__}: {exc}); restore it "
            "(git checkout -- FILE) or delete it to run its studies again"
        ) from exc


def read(p: Path) -> list[dict]:
    """The rows of the cell whose file is ``p`` (gzip'd, or its plain twin); [] if the cell holds none yet."""
    found = existing(p)
    return [] if found is None else parse(found.read_bytes(), str(found))


def encode(rows: Iterable[dict]) -> bytes:
    """The bytes of a rows file: the same rows give the same bytes (no time stamp, no file name)."""
    text = "".join(json.dumps(row) + "\n" for row in rows)
    return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)


def write(p: Path, rows: Iterable[dict]) -> Path:
    """Write the cell's file as ``rows`` (atomically), remove a plain twin; return the file written."""
    gz = existing(p) or Path(p)
    gz = gz if gz.name.endswith(SUFFIX) else gz.with_name(gz.name + ".gz")
    gz.parent.mkdir(parents=True, exist_ok=True)
    tmp = gz.with_name(f".{gz.name}.{os.getpid()}.tmp")
    tmp.write_bytes(encode(rows))
    os.replace(tmp, gz)
    _plain(gz).unlink(missing_ok=True)
    return gz


def append(p: Path, row: dict) -> Path:
    """Add one finished study to the cell's file (see the module docstring for why the file is rewritten)."""
    return write(p, [*read(p), row])


def cells(folder: Path) -> Iterator[tuple[str, str, bool, Path]]:
    """``(problem, sampler, error, file)`` of every rows file in ``folder/<problem>/``, in the order of the paths."""
    seen: dict[tuple[str, str, bool], Path] = {}
    for f in sorted(Path(folder).glob("*/*.jsonl*")):
        parsed = parse_name(f.name)
        if parsed is None or f.parent.name == "report":
            continue
        key = (f.parent.name, *parsed)
        if key in seen:
            existing(f)  # raises: a cell in both formats
        seen[key] = f
    for (problem, sampler, error), f in sorted(seen.items(), key=lambda kv: str(_plain(kv[1]))):
        yield problem, sampler, error, f


def convert(folder: Path) -> list[Path]:
    """Turn every plain ``*.jsonl`` under ``folder`` into ``*.jsonl.gz`` with the same rows; return the new files."""
    done = []
    for plain in sorted(Path(folder).rglob(f"*{PLAIN_SUFFIX}")):
        rows = parse(plain.read_bytes(), str(plain))
        gz = plain.with_name(plain.name + ".gz")
        if gz.exists():
            raise ValueError(f"{gz} exists beside {plain}: keep one of them by hand, then convert again")
        done.append(write(gz, rows))
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.rows", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    conv = sub.add_parser("convert", help="gzip every plain .jsonl rows file under FOLDER (same rows, same order)")
    conv.add_argument("folder", type=Path, nargs="?", default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)
    files = convert(args.folder)
    sys.stdout.write(f"{len(files)} files converted under {args.folder}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Build the tutorial notebooks from their .py sources, or check that they are in sync.

    python tutorials/build.py                  # every tutorials/NN_name.py -> NN_name.ipynb, executed
    python tutorials/build.py 03_transformer.py  # only these
    python tutorials/build.py --check          # every .py has an .ipynb with the same cells (no jupytext needed)

The .py files (jupytext "percent" format) are the source; the notebooks are generated, executed
in full mode with tutorials/ as the working directory, and committed with their outputs so they
read well on GitHub and Colab. Building needs the `tutorials` extra (jupytext, nbclient,
ipykernel); the check needs only the standard library, so CI runs it with the `dev` extra.
"""

import json
import os
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def sources() -> list[Path]:
    return sorted(HERE.glob("[0-9][0-9]_*.py"))


def percent_cells(text: str) -> list[tuple[str, str]]:
    """(cell type, source) of each cell of a percent-format file, as jupytext writes them into a notebook.

    Cells start at `# %%` (code) or `# %% [markdown]`; blank lines at the end of a cell are dropped;
    markdown lines then lose their leading `# ` (or a lone `#`).
    """
    cells = []
    for chunk in re.split(r"^[ \t]*(?=# %%)", text, flags=re.M):
        header, *lines = chunk.split("\n")
        if not header.startswith("# %%"):
            continue  # text before the first cell marker
        while lines and not lines[-1].strip():
            lines.pop()
        if header.strip() == "# %% [markdown]":
            lines = [line[2:] if line.startswith("# ") else line[1:] if line.startswith("#") else line
                     for line in lines]
            cells.append(("markdown", "\n".join(lines)))
        else:
            cells.append(("code", "\n".join(lines)))
    return cells


def notebook_cells(path: Path) -> list[tuple[str, str]]:
    cells = json.loads(path.read_text())["cells"]
    return [(c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"]) for c in cells]


def check(paths: list[Path]) -> list[str]:
    """One line per problem: a missing notebook, or the first cell where it differs from its .py."""
    problems = []
    for py in paths:
        nb = py.with_suffix(".ipynb")
        if not nb.exists():
            problems.append(f"{nb.name} is missing; run: python tutorials/build.py {py.name}")
            continue
        want, have = percent_cells(py.read_text()), notebook_cells(nb)
        for i, (w, h) in enumerate(zip(want, have)):
            if w != h:
                lines = [(x, y) for x, y in zip(w[1].splitlines() + [""], h[1].splitlines() + [""]) if x != y]
                first = lines[0] if lines else (w[0], h[0])  # no differing line: the cell types differ
                problems.append(f"{nb.name} cell {i + 1} differs from {py.name}: {first[0][:70]!r} in the .py, "
                                f"{first[1][:70]!r} in the notebook; run: python tutorials/build.py {py.name}")
                break
        else:
            if len(want) != len(have):
                problems.append(f"{nb.name} has {len(have)} cells, {py.name} has {len(want)}; "
                                f"run: python tutorials/build.py {py.name}")
    return problems


def build(py: Path) -> None:
    import jupytext
    import nbclient

    nb = jupytext.read(py)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    os.environ.pop("MINIREASON_FAST", None)  # notebooks carry full-mode outputs (the kernel inherits the environment)
    os.environ.setdefault("TQDM_MININTERVAL", "10")  # a progress bar that redraws rarely keeps the outputs short
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(HERE)}})
    client.execute()
    for cell in nb.cells:  # execution metadata changes every run; keeping it would make every rebuild a diff
        cell.metadata.pop("execution", None)
    jupytext.write(nb, py.with_suffix(".ipynb"))


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        problems = check(sources())
        print("\n".join(problems) or f"{len(sources())} notebooks in sync with their .py files")
        return 1 if problems else 0
    paths = [HERE / Path(a).name for a in argv] or sources()
    for py in paths:
        print(f"building {py.with_suffix('.ipynb').name} (executing {py.name} in full mode)", flush=True)
        start = time.perf_counter()
        build(py)
        print(f"  {time.perf_counter() - start:.0f} s", flush=True)
    problems = check(paths)
    print("\n".join(problems) or "done; notebooks in sync")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""One benchmark, two commits, one run: the figures of an older commit and of the working tree
side by side, measured on the same machine one after the other, into docs/benchmarks.md.

The older commit is checked out into a temporary git worktree (sharing this checkout's
`.venv/`), and the benchmark script is run there with its own code, then here, alternating
when `--repeats` is above 1 so that a drift in the machine's load falls on both. Each run's
markdown section (every benchmark here takes `--out`) goes into one section of its own:

    .venv/bin/python bench/before_after.py --base 73f6141 bench/load.py \\
        --items 10000,100000 --annotators 16 --seconds 60 --think 1

Whatever follows the script's name is passed to it unchanged, in both trees.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def git(*args: str, cwd: Path = REPO) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def load_average() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def run_in(tree: Path, script: str, script_args: list[str], out: Path) -> str:
    """Run ``script`` as it is in ``tree`` with its results written to ``out``; returns the
    markdown section it wrote."""
    out.write_text("# Benchmarks\n")
    command = [str(REPO / ".venv" / "bin" / "python"), script, *script_args, "--out", str(out)]
    print(f"==> {tree}: {' '.join(command[1:])}", flush=True)
    subprocess.run(command, cwd=tree, check=True)
    return out.read_text().removeprefix("# Benchmarks\n").strip()


def demoted(section: str) -> str:
    """The section's markdown headings one level down and its bench markers dropped, so that it
    nests under this section's own headings and does not replace the script's own section."""
    section = re.sub(r"^<!-- bench:.*-->\n?", "", section, flags=re.MULTILINE)
    section = re.sub(r" --out \S+", "", section)
    return re.sub(r"^(#+) ", r"\1## ", section, flags=re.MULTILINE)


def write_section(path: Path, marker: str, body: str) -> None:
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    section = f"{start}\n{body.rstrip()}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if start in text:
        before, rest = text.split(start, 1)
        text = before + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the older commit")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each tree, alternating")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument("script", help="the benchmark, e.g. bench/load.py")
    parser.add_argument("script_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()

    base = git("rev-parse", "--short", args.base)
    head = git("rev-parse", "--short", "HEAD")
    changed = git("status", "--porcelain", "--untracked-files=no")
    dirty = " with uncommitted changes" if changed else ""
    scratch = Path(tempfile.mkdtemp(prefix="tweezers-before-after-"))
    base_tree = scratch / "base"
    git("worktree", "add", "--detach", str(base_tree), base)
    try:
        (base_tree / ".venv").symlink_to(REPO / ".venv")
        load_before = load_average()
        runs: list[tuple[str, str]] = []
        for _ in range(args.repeats):
            for label, tree in ((f"before ({base})", base_tree), (f"after ({head}{dirty})", REPO)):
                out = scratch / f"{len(runs)}.md"
                runs.append((label, run_in(tree, args.script, args.script_args, out)))
        load_after = load_average()
    finally:
        git("worktree", "remove", "--force", str(base_tree))

    name = Path(args.script).stem
    command = " ".join(
        [".venv/bin/python bench/before_after.py", f"--base {args.base}"]
        + ([f"--repeats {args.repeats}"] if args.repeats > 1 else [])
        + [args.script, *args.script_args]
    )
    body = [
        f"## Before and after: {args.script}",
        "",
        f"`{command}` — {base} and {head} run one after the other on the same machine "
        f"(load average 1/5/15 min {load_before} before, {load_after} after).",
    ]
    for label, section in runs:
        body += ["", f"### {label}", "", demoted(section)]
    write_section(args.out, f"bench:before-after:{name}", "\n".join(body))
    print("\n".join(body))


if __name__ == "__main__":
    sys.exit(main())

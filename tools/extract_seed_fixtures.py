#!/usr/bin/env python3
"""Extracts the example UAM events and createRecord requests from the seeds into test fixtures.

Run from the repository root: python3 tools/extract_seed_fixtures.py ../shared/seeds
Writes crates/vigil-model/fixtures/seed/: uam-examples.json (a JSON array holding every
well-formed example event, each with the seed's exact text), uam-malformed-N.json (the seed's
malformed examples, as pasted) and create-record-N.json (seed 004's request bodies, with the page indentation removed).
"""
import json
import pathlib
import re
import sys


def top_level_objects(text):
    """Yields (line number, text) of every balanced top-level {...} block, string-aware."""
    i, n = 0, len(text)
    while i < n:
        if text[i] != "{":
            i += 1
            continue
        depth, j, in_string, escaped = 0, i, False, False
        while j < n:
            c = text[j]
            if in_string:
                if escaped:
                    escaped = False
                elif c == "\\":
                    escaped = True
                elif c == '"':
                    in_string = False
            elif c == '"':
                in_string = True
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        yield text.count("\n", 0, i) + 1, text[i : j + 1]
        i = j + 1


def main():
    seeds = pathlib.Path(sys.argv[1])
    out = pathlib.Path("crates/vigil-model/fixtures/seed")
    out.mkdir(parents=True, exist_ok=True)
    well_formed, malformed = [], []
    for line, block in top_level_objects((seeds / "001_8cdbc945009842e4.txt").read_text()):
        if '"actor"' not in block or ('"auditPayload"' not in block and '"action"' not in block):
            continue
        try:
            json.loads(block)
            well_formed.append(block)
        except json.JSONDecodeError:
            malformed.append(block)
    (out / "uam-examples.json").write_text("[\n" + ",\n".join(well_formed) + "\n]\n")
    for k, block in enumerate(malformed, 1):
        (out / f"uam-malformed-{k}.json").write_text(block + "\n")
    legacy = (seeds / "004_8c4c6e05e48d9dd8.txt").read_text()
    requests = [b for _, b in top_level_objects(legacy) if '"component"' in b]
    for k, block in enumerate(requests, 1):
        (out / f"create-record-{k}.json").write_text(re.sub(r"(?m)^  ", "", block) + "\n")
    print(f"{len(well_formed)} well-formed, {len(malformed)} malformed, {len(requests)} createRecord")


if __name__ == "__main__":
    main()

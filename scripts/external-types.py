#!/usr/bin/env python3
"""Lists the external types a crate's public API exposes, and checks them against the
crate's allow-list (`external-types.txt` beside its Cargo.toml).

What cargo-check-external-types does, on the stable toolchain: rustdoc's JSON output
(`RUSTC_BOOTSTRAP=1 cargo rustdoc -p CRATE -- -Z unstable-options --output-format
json`, which scripts/external-types.sh runs) is walked from the crate root through
everything public and reachable (modules, re-exports, types, their fields, variants,
methods and trait impls, function signatures, bounds), and every path that resolves
into another crate is an exposed external type. The standard library is always
allowed. A type that is not on the list fails the check: it either goes on the list
(a deliberate part of the API, reviewed) or out of the API.

Usage: external-types.py RUSTDOC_JSON ALLOW_LIST [--print]
"""

import fnmatch
import json
import sys

STD = {"std", "core", "alloc"}


def main() -> int:
    doc_path, allow_path = sys.argv[1], sys.argv[2]
    show = "--print" in sys.argv[3:]
    with open(doc_path, encoding="utf-8") as f:
        doc = json.load(f)
    index, paths, crates = doc["index"], doc["paths"], doc["external_crates"]

    def external_name(item_id):
        entry = paths.get(str(item_id))
        if entry is None or entry["crate_id"] == 0:
            return None
        crate = crates[str(entry["crate_id"])]["name"]
        if crate in STD:
            return None
        return "::".join([crate] + entry["path"][1:])

    exposed = {}  # external path -> where it was seen

    def scan(value, where):
        """Every resolved path (`{"path": .., "id": ..}`) inside a type or signature."""
        if isinstance(value, dict):
            if "path" in value and "id" in value and isinstance(value["id"], int):
                name = external_name(value["id"])
                if name:
                    exposed.setdefault(name, where)
            for v in value.values():
                scan(v, where)
        elif isinstance(value, list):
            for v in value:
                scan(v, where)

    seen = set()
    todo = [doc["root"]]
    while todo:
        item_id = todo.pop()
        if item_id in seen:
            continue
        seen.add(item_id)
        item = index.get(str(item_id))
        if item is None:
            # An item of another crate, reached through a re-export.
            name = external_name(item_id)
            if name:
                exposed.setdefault(name, "re-export")
            continue
        if item.get("visibility") not in ("public", "default"):
            continue
        where = item.get("name") or f"item {item_id}"
        (kind, inner), = item["inner"].items()
        if kind == "module":
            todo += inner["items"]
        elif kind == "use":
            if inner.get("id") is not None:
                todo.append(inner["id"])
        elif kind == "struct":
            scan(inner.get("generics"), where)
            fields = inner["kind"].get("plain", {}).get("fields", []) if isinstance(
                inner["kind"], dict
            ) else []
            tuple_fields = inner["kind"].get("tuple", []) if isinstance(inner["kind"], dict) else []
            todo += fields + [f for f in tuple_fields if f is not None]
            todo += inner["impls"]
        elif kind == "enum":
            scan(inner.get("generics"), where)
            todo += inner["variants"] + inner["impls"]
        elif kind == "variant":
            scan(inner, where)
            k = inner.get("kind")
            if isinstance(k, dict):
                todo += k.get("struct", {}).get("fields", [])
                todo += [f for f in k.get("tuple", []) if f is not None]
        elif kind == "union":
            todo += inner.get("fields", []) + inner["impls"]
        elif kind == "trait":
            scan(inner.get("generics"), where)
            scan(inner.get("bounds"), where)
            todo += inner["items"]
        elif kind == "impl":
            # Blanket and auto-trait impls the compiler adds say nothing of the API.
            if inner.get("is_synthetic") or inner.get("blanket_impl") is not None:
                continue
            scan(inner.get("trait"), f"impl for {where}")
            scan(inner.get("generics"), f"impl for {where}")
            todo += inner["items"]
        else:
            # Functions, fields, constants, statics, type aliases, associated items.
            scan(inner, where)

    allowed = []
    with open(allow_path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                allowed.append(line)

    if show:
        for name in sorted(exposed):
            print(name)
        return 0
    bad = sorted(n for n in exposed if not any(fnmatch.fnmatchcase(n, p) for p in allowed))
    if bad:
        print(f"{allow_path}: the public API exposes types that are not on the list:")
        for name in bad:
            print(f"  {name}    (in {exposed[name]})")
        print("Put each on the list if it is meant to be part of the API, or hide it.")
        return 1
    unused = [p for p in allowed if not any(fnmatch.fnmatchcase(n, p) for n in exposed)]
    if unused:
        print(f"{allow_path}: entries no public type needs any more: {', '.join(unused)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

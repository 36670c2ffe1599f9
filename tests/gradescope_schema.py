"""Gradescope's results.json format: its JSON Schema (gradescope_results.schema.json) and a checker.

The schema is written from Gradescope's autograder specification. `validate`
implements the part of JSON Schema it uses (type, enum, required,
properties, additionalProperties, items, minimum, minLength, pattern and
local $ref), so the check needs no package beyond the standard library.
`problems` adds what a schema cannot say: the total is the sum of the
tests' scores, and no test scores more than its maximum.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

SCHEMA = json.loads((Path(__file__).with_name("gradescope_results.schema.json")).read_text())
TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}
KEYWORDS = {"$schema", "$ref", "$defs", "title", "description", "type", "enum", "required", "properties",
            "additionalProperties", "items", "minimum", "minLength", "pattern"}


def validate(value, schema: dict = SCHEMA, where: str = "results", root: dict = SCHEMA) -> list[str]:
    """Every way `value` breaks `schema`, as 'where: what' lines (empty when it conforms)."""
    unknown = set(schema) - KEYWORDS
    if unknown:
        raise ValueError(f"the schema uses keywords this checker does not implement: {sorted(unknown)}")
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return validate(value, target, where, root)
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(TYPES[kind](value) for kind in kinds):
            return [f"{where}: {value!r:.60} is not of type {' or '.join(kinds)}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r:.60} is not one of {schema['enum']}"]
    out = []
    if "minimum" in schema and value < schema["minimum"]:
        out.append(f"{where}: {value} is below the minimum {schema['minimum']}")
    if "minLength" in schema and len(value) < schema["minLength"]:
        out.append(f"{where}: {value!r} is shorter than {schema['minLength']}")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        out.append(f"{where}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, dict):
        out += [f"{where}: {key!r} is missing" for key in schema.get("required", []) if key not in value]
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key in properties:
                out += validate(item, properties[key], f"{where}.{key}", root)
            elif schema.get("additionalProperties", True) is False:
                out.append(f"{where}: {key!r} is not a key Gradescope knows")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            name = item.get("name") if isinstance(item, dict) else None
            out += validate(item, schema["items"], f"{where}[{i}]" + (f" ({name})" if name else ""), root)
    return out


def problems(results: dict) -> list[str]:
    """Everything that makes `results` unacceptable to Gradescope (empty when it is valid)."""
    out = validate(results)
    if out:
        return out
    for t in results["tests"]:
        if t["score"] > t["max_score"]:
            out.append(f"test {t['name']!r}: score {t['score']} above its max_score {t['max_score']}")
    total = sum(t["score"] for t in results["tests"])
    if abs(total - results["score"]) > 1e-9:
        out.append(f"score {results['score']} is not the sum of the test scores {total}")
    return out

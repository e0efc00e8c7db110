#!/usr/bin/env python3
"""Validates Kubernetes manifests offline against the Kubernetes API's own object models, as the
official Python client (PyPI: kubernetes) generates them from the API's OpenAPI document.

Each object is walked field by field against its model's attribute map and types (an unknown or
misspelt field, a string where a number goes, a list where an object goes are errors), then built
through the client's deserializer, whose models refuse a missing required field. No cluster is
needed. Usage: validate-kubernetes.py FILE_OR_DIR...   Exit status 1 names every problem.
"""
import json
import re
import sys
from pathlib import Path

import kubernetes.client as k8s
import yaml

KINDS = {
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("v1", "Service"): "V1Service",
    ("v1", "PersistentVolumeClaim"): "V1PersistentVolumeClaim",
    ("v1", "Secret"): "V1Secret",
    ("batch/v1", "Job"): "V1Job",
}
NATIVE = {"str": str, "int": int, "bool": bool, "float": (int, float)}


def walk(value, type_name, where, problems):
    """Checks `value` against the client's type string `type_name`."""
    if value is None:
        return
    if type_name in NATIVE:
        if type_name == "int" and isinstance(value, bool):
            problems.append(f"{where}: expected an integer, found {value!r}")
        elif not isinstance(value, NATIVE[type_name]):
            problems.append(f"{where}: expected {type_name}, found {type(value).__name__} {value!r}")
        return
    if type_name in ("object", "datetime", "date"):
        return
    m = re.fullmatch(r"[lL]ist\[(.+)\]", type_name)
    if m:
        if not isinstance(value, list):
            problems.append(f"{where}: expected a list, found {type(value).__name__}")
            return
        for i, item in enumerate(value):
            walk(item, m.group(1), f"{where}[{i}]", problems)
        return
    m = re.fullmatch(r"(?:dict\((\w+), (.+)\)|Dict\[(\w+), (.+)\])", type_name)
    if m:
        if not isinstance(value, dict):
            problems.append(f"{where}: expected a map, found {type(value).__name__}")
            return
        for key, item in value.items():
            walk(item, m.group(2) or m.group(4), f"{where}.{key}", problems)
        return
    model = getattr(k8s, type_name, None)
    if model is None:
        problems.append(f"{where}: the client has no model {type_name}")
        return
    if not isinstance(value, dict):
        problems.append(f"{where}: expected an object ({type_name}), found {type(value).__name__}")
        return
    by_json = {json_name: attr for attr, json_name in model.attribute_map.items()}
    for key, item in value.items():
        attr = by_json.get(key)
        if attr is None:
            problems.append(f"{where}.{key}: no such field in {type_name}")
            continue
        walk(item, model.openapi_types[attr], f"{where}.{key}", problems)


def validate(path, problems):
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    if not docs:
        problems.append(f"{path}: no object")
    client = k8s.ApiClient()
    for n, doc in enumerate(docs):
        where = f"{path}#{n}"
        key = (doc.get("apiVersion"), doc.get("kind"))
        model = KINDS.get(key)
        if model is None:
            problems.append(f"{where}: apiVersion/kind {key} is not one this check knows")
            continue
        before = len(problems)
        walk(doc, model, f"{where} {key[1]}", problems)
        if len(problems) == before:
            try:
                client.deserialize(json.dumps(doc), model, "application/json")
            except (ValueError, TypeError) as e:
                problems.append(f"{where} {key[1]}: {e}")
        if len(problems) == before:
            print(f"ok: {where} {key[1]} {doc['metadata'].get('name')}")


def main(args):
    problems = []
    files = []
    for arg in args:
        p = Path(arg)
        files += sorted(p.glob("*.yaml")) if p.is_dir() else [p]
    if not files:
        problems.append("no manifest given")
    for f in files:
        validate(f, problems)
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""Writes kubeconform's JSON schemas for offline, strict validation.

    k8s_schemas.py SWAGGER_JSON CRD_YAML... OUT_DIR

SWAGGER_JSON is Kubernetes' OpenAPI v2 document (api/openapi-spec/swagger.json of the
pinned k8s.io/kubernetes module); each CRD_YAML is a CustomResourceDefinition (the
Gateway API's). One file per kind and version, named as kubeconform looks them up with
-schema-location 'OUT_DIR/{{ .ResourceKind }}{{ .KindSuffix }}.json': every $ref inlined
("standalone"), unknown fields refused ("strict"), int-or-string accepted as either.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml


def strict(node):
    """Adds additionalProperties: false where properties are listed; int-or-string as oneOf."""
    if isinstance(node, list):
        return [strict(x) for x in node]
    if not isinstance(node, dict):
        return node
    if node.get("format") == "int-or-string" or node.get("x-kubernetes-int-or-string"):
        return {"oneOf": [{"type": "string"}, {"type": "integer"}]}
    out = {k: strict(v) for k, v in node.items()}
    if "properties" in out and "additionalProperties" not in out \
            and not out.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


def inline(node, definitions, path=()):
    """Replaces each $ref by the definition; a recursive reference accepts anything."""
    if isinstance(node, list):
        return [inline(x, definitions, path) for x in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):  # (JSONSchemaProps has a property named "$ref")
        name = ref.rsplit("/", 1)[-1]
        if name in path:
            return {}
        return inline(definitions[name], definitions, path + (name,))
    return {k: inline(v, definitions, path) for k, v in node.items()}


def file_name(group: str, version: str, kind: str) -> str:
    suffix = f"-{group.split('.')[0].lower()}-{version.lower()}" if group else f"-{version.lower()}"
    return f"{kind.lower()}{suffix}.json"


def main(swagger: str, crds: list[str], out: str) -> None:
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    definitions = json.loads(Path(swagger).read_text())["definitions"]
    count = 0
    for name, schema in definitions.items():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            doc = strict(inline(schema, definitions, (name,)))
            (out_dir / file_name(gvk["group"], gvk["version"], gvk["kind"])).write_text(json.dumps(doc))
            count += 1
    for crd_file in crds:
        crd = yaml.safe_load(Path(crd_file).read_text())
        for v in crd["spec"]["versions"]:
            doc = strict(v["schema"]["openAPIV3Schema"])
            (out_dir / file_name(crd["spec"]["group"], v["name"], crd["spec"]["names"]["kind"])).write_text(json.dumps(doc))
            count += 1
    print(f"{count} schemas in {out_dir}")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:-1], sys.argv[-1])

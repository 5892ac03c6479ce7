"""The committed SDL equals the schema: a schema change shows up in review (regenerate with
`exstreamly api export-schema`)."""
from __future__ import annotations

from graphql import build_schema

from graphql_api.cli import SCHEMA_SDL, schema_sdl


def test_committed_sdl_matches_the_schema() -> None:
    assert SCHEMA_SDL.read_text() == schema_sdl(), "schema drift: run `exstreamly api export-schema`"


def test_every_type_and_field_is_described() -> None:
    schema = build_schema(SCHEMA_SDL.read_text())
    missing = []
    for name, gql_type in schema.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Float", "Boolean", "ID"}:
            continue
        if not gql_type.description:
            missing.append(name)
        for field_name, field in getattr(gql_type, "fields", {}).items():
            if not field.description:
                missing.append(f"{name}.{field_name}")
            missing += [f"{name}.{field_name}({arg})" for arg, a in getattr(field, "args", {}).items()
                        if not a.description]
    assert not missing

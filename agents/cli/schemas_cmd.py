"""`salespulse schemas export DIR`: JSON Schemas of every event, for channel teams."""

from __future__ import annotations

import json
from pathlib import Path

import click


def all_models() -> dict[str, type]:
    import importlib
    import pkgutil

    import schemas
    from pydantic import BaseModel

    models: dict[str, type] = {}
    for info in pkgutil.iter_modules(schemas.__path__):
        module = importlib.import_module(f"schemas.{info.name}")
        for name, obj in vars(module).items():
            if (isinstance(obj, type) and issubclass(obj, BaseModel) and obj.__module__ == module.__name__
                    and "event_type" in obj.model_fields):
                models[name] = obj
    return models


@click.group(name="schemas")
def schemas_group() -> None:
    """Event schemas."""


@schemas_group.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def export(directory: Path) -> None:
    """Write one JSON Schema file per event model into DIRECTORY."""
    directory.mkdir(parents=True, exist_ok=True)
    models = all_models()
    for name, model in sorted(models.items()):
        path = directory / f"{name}.schema.json"
        path.write_text(json.dumps(model.model_json_schema(mode="validation"), indent=2, ensure_ascii=False) + "\n")
    click.echo(f"wrote {len(models)} schemas to {directory}")


commands = [schemas_group]

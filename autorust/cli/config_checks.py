"""The offline checks of every setting, before the first image is read or the first model is
called: the configuration (``autorust.toml``, ``AUTORUST_*``, CLI overrides) and option values.

Each problem becomes one ``ConfigError``: the setting as the user wrote it (``-c``,
``AUTORUST_MAX_ITERATIONS``, ``autorust.toml [default] temperature`` ...) and what is allowed.
The CLI prints it on one line and exits with code 2. Unknown names (agents, settings in
``autorust.toml``, nested ``AUTORUST_*__*`` variables, close misspellings) are rejected.
Nothing here touches the network or starts a process (that is ``probes.py``).
"""

from __future__ import annotations

import difflib
import os
import tomllib
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from autorust.cli.errors import ConfigError
from autorust.graph.agents import MODEL_AGENTS, AgentName

if TYPE_CHECKING:
    from autorust.graph.context import AutorustConfig
    from autorust.sandbox.base import ExecutorSettings

ENV_PREFIX = "AUTORUST_"
TOML_FILE = Path("autorust.toml")
# environment variables autorust reads that are deliberately not settings (secrets stay out
# of the configuration model) or belong to the Cloud Function server
NON_SETTING_ENV = {"API_KEY", *(f"{agent.upper()}_API_KEY" for agent in MODEL_AGENTS)}
NON_SETTING_ENV_PREFIXES = ("CF_",)


# CLI options that set configuration fields (first element of the field's location)
CLI_NAMES = {
    "max_iterations": "-n/--max-iterations",
    "prompt_versions": "--prompt-version",
    "scripted_replies": "--scripted",
    "provider": "--scripted",
}


def _toml() -> dict[str, Any]:
    if not TOML_FILE.is_file():
        return {}
    try:
        return tomllib.loads(TOML_FILE.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{TOML_FILE.resolve()}", f"not valid TOML ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"{TOML_FILE.resolve()}", f"cannot read it ({exc.strerror})") from None


def env_name(loc: Iterable[str | int]) -> str:
    return ENV_PREFIX + "__".join(str(part) for part in loc).upper()


def _env_has(name: str) -> bool:
    return any(key.upper() == name for key in os.environ)


def _toml_has(data: Mapping[str, Any], loc: tuple[str | int, ...]) -> bool:
    node: Any = data
    for part in loc:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def setting_name(loc: tuple[str | int, ...], overrides: Mapping[str, Any]) -> str:
    """Where the offending value came from: CLI option, environment variable or toml key."""
    if loc and loc[0] in overrides:
        return CLI_NAMES.get(str(loc[0]), "--" + str(loc[0]).replace("_", "-"))
    for depth in range(len(loc), 0, -1):
        if _env_has(env_name(loc[:depth])):
            return env_name(loc[:depth])
    if _toml_has(_toml(), loc):
        section = ".".join(str(p) for p in loc[:-1])
        return f"autorust.toml {'[' + section + '] ' if section else ''}{loc[-1]}"
    return env_name(loc)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def validation_problem(exc: ValidationError, overrides: Mapping[str, Any]) -> ConfigError:
    error = exc.errors()[0]
    loc = tuple(error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    if message.startswith("Input should be "):
        message = "must be " + message.removeprefix("Input should be ")
    got = f" (got {_shown(error['input'])})" if "input" in error else ""
    return ConfigError(setting_name(loc, overrides), f"{message}{got}")


def load_config(**overrides: Any) -> AutorustConfig:
    """The configuration from overrides, ``AUTORUST_*`` and ``autorust.toml``, fully checked."""
    from pydantic_settings import SettingsError

    from autorust.graph.context import AutorustConfig

    toml = _toml()  # a malformed file is reported by name, not as a parser traceback
    check_setting_names(AutorustConfig, toml)
    try:
        config = AutorustConfig(**overrides)
    except ValidationError as exc:
        raise validation_problem(exc, overrides) from None
    except SettingsError as exc:
        field = str(exc).split('"')[1] if '"' in str(exc) else "?"
        raise ConfigError(
            env_name((field,)), 'not valid JSON (e.g. \'{"coding": "v1"}\')'
        ) from None
    check_prompt_versions(config.prompt_versions, overrides)
    return config


def _fields(model: type[BaseModel]) -> dict[str, type[BaseModel] | None]:
    """Field name -> nested settings model (None for plain values)."""
    found: dict[str, type[BaseModel] | None] = {}
    for name, info in model.model_fields.items():
        annotation = info.annotation
        nested = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        found[name] = annotation if nested else None  # type: ignore[assignment]
    return found


def _unknown(name: str, known: Iterable[str], where: str) -> ConfigError:
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return ConfigError(where, f"unknown setting {name!r}; {hint}known: {', '.join(known)}")


def _check_toml(model: type[BaseModel], data: Mapping[str, Any], section: str) -> None:
    fields = _fields(model)
    for key, value in data.items():
        where = f"autorust.toml {'[' + section + '] ' if section else ''}{key}"
        if key not in fields:
            raise _unknown(key, fields, where)
        nested = fields[key]
        if nested is not None and isinstance(value, Mapping):
            _check_toml(nested, value, f"{section}.{key}" if section else key)


def _check_env(model: type[BaseModel]) -> None:
    fields = _fields(model)
    for raw in os.environ:
        name = raw.upper()
        if not name.startswith(ENV_PREFIX):
            continue
        rest = name.removeprefix(ENV_PREFIX)
        if rest in NON_SETTING_ENV or rest.startswith(NON_SETTING_ENV_PREFIXES):
            continue
        parts = rest.lower().split("__")
        current: type[BaseModel] | None = model
        for depth, part in enumerate(parts):
            known = _fields(current) if current is not None else {}
            if current is None or part not in known:
                if depth == 0 and len(parts) == 1:
                    # AUTORUST_SOMETHING that is no setting: only a near miss is an error
                    if difflib.get_close_matches(part, fields, n=1, cutoff=0.8):
                        raise _unknown(part, fields, raw)
                    break
                if current is None:
                    raise ConfigError(raw, f"{parts[depth - 1]!r} has no sub-settings")
                raise _unknown(part, known, raw)
            current = known[part]


def check_setting_names(model: type[BaseModel], toml: Mapping[str, Any]) -> None:
    _check_toml(model, toml, "")
    _check_env(model)


def check_prompt_versions(versions: Mapping[str, str], overrides: Mapping[str, Any]) -> None:
    from autorust.prompts.loader import PromptNotFoundError, resolve_version

    where = setting_name(("prompt_versions",), overrides)
    for agent, version in versions.items():
        if agent not in MODEL_AGENTS:
            raise ConfigError(
                where, f"unknown agent {agent!r}; agents with prompts: {', '.join(MODEL_AGENTS)}"
            )
        try:
            resolve_version(agent, version)
        except PromptNotFoundError as exc:
            raise ConfigError(where, str(exc)) from None


def scripted_overrides(scripted: Path | None) -> dict[str, Any]:
    """``--scripted FOLDER``: the scripted model replaying that folder's replies."""
    if scripted is None:
        return {}
    if not scripted.is_dir():
        raise ConfigError("--scripted", f"{scripted} is not a folder of replies")
    return {"provider": "scripted", "scripted_replies": str(scripted)}


def parse_pairs(items: list[str], option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError(option, f"takes NAME=VALUE (got {item!r})")
        pairs[name.strip()] = value.strip()
    return pairs


def parse_concurrency(items: list[str]) -> dict[str, int]:
    agents = [agent.value for agent in AgentName]
    slots: dict[str, int] = {}
    for agent, value in parse_pairs(items, "-c/--concurrency").items():
        if agent not in agents:
            raise ConfigError(
                "-c/--concurrency", f"unknown agent {agent!r}; agents: {', '.join(agents)}"
            )
        if not value.isdigit() or int(value) < 1:
            raise ConfigError(
                "-c/--concurrency", f"{agent} needs a whole number of slots >= 1 (got {value!r})"
            )
        slots[agent] = int(value)
    return slots


def check_positive(option: str, value: float | None, *, whole: bool = True) -> None:
    if value is not None and value <= 0:
        kind = "a whole number >= 1" if whole else "a number > 0"
        raise ConfigError(option, f"must be {kind} (got {value!r})")


def check_writable_dir(option: str, folder: Path) -> None:
    """Create ``folder`` if needed and prove a file can be written in it."""
    probe = folder / f".autorust-write-check-{uuid.uuid4().hex[:8]}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(option, f"cannot write to {folder} ({reason})") from None


def check_key(agent: str, config: AutorustConfig) -> None:
    """A model named without a key or endpoint is a missing key, not a missing model."""
    from autorust.llm.models import api_key_for

    settings = config.model_for(agent)
    if config.provider == "scripted" or not settings.model or api_key_for(agent) is not None:
        return
    if settings.base_url or os.environ.get("OPENAI_BASE_URL"):
        return
    raise ConfigError(
        f"{agent} model",
        f"{settings.model!r} is configured but no API key is set. Export one:\n"
        "  export OPENAI_API_KEY=...\n"
        f"(or AUTORUST_{agent.upper()}_API_KEY / AUTORUST_API_KEY), or point it at a local "
        "OpenAI-compatible server with AUTORUST_DEFAULT__BASE_URL=http://localhost:11434/v1",
    )


def with_warm_pool(settings: ExecutorSettings, slots: int) -> ExecutorSettings:
    """Warm interpreters for as many concurrent jobs as the interpreter agent has slots (when
    the executor supports a warm pool)."""
    if "warm_pool_size" not in type(settings).model_fields:
        return settings
    return settings.model_copy(update={"warm_pool_size": slots})

"""train_big's command line and `python -m daddy.config`: flags generated from `TrainConfig`.

Every `TrainConfig` field is one `--flag` whose help is the field's docstring; values stay text
and pydantic checks them (daddy.run.config), so a bad flag is one `<command>: error:` line,
exit 2, with no usage block. `resolve` layers defaults <- the newest checkpoint's saved config <-
YAML (`--config`) <- the flags given.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, NoReturn

from pydantic import ValidationError
from pydantic.fields import FieldInfo

from daddy.run.config import (
    ConfigError,
    TrainConfig,
    check_run_rom,
    checkpoint_settings,
    expand_env,
    load_run_config,
    make_train_config,
    problems_of,
    read_yaml,
    report,
    yaml_place,
    yaml_section,
)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def train_fields() -> dict[str, FieldInfo]:
    """TrainConfig fields that are command-line options (the YAML-only blocks are not)."""
    return {
        name: info
        for name, info in TrainConfig.model_fields.items()
        if (info.json_schema_extra or {}).get("cli", True)  # type: ignore[union-attr]
    }


class _Parser(argparse.ArgumentParser):
    """argparse that raises ConfigError (one line, no usage block) instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError("", [message])


def build_parser(prog: str = "python -m daddy.train_big") -> argparse.ArgumentParser:
    """The train_big parser: one flag per TrainConfig field, help from its docstring; values
    stay text (pydantic checks them) and only flags given on the command line land in it."""
    parser = _Parser(
        prog=prog,
        description="Train Daddy: swarming envs from curriculum savestates, resumable.",
        argument_default=argparse.SUPPRESS,
        allow_abbrev=False,
    )
    parser.add_argument(
        "--config", metavar="runs/NAME.yaml",
        help="run config; its train: values replace the defaults, flags win",
    )  # fmt: skip
    for name, info in train_fields().items():
        help_text = f"{info.description} (default: {info.default})".replace("%", "%%")
        if info.annotation is bool:
            action = argparse.BooleanOptionalAction
            parser.add_argument(_flag(name), dest=name, action=action, help=help_text)
            continue
        choices = (
            typing.get_args(info.annotation)
            if typing.get_origin(info.annotation) is Literal
            else ()
        )
        metavar = "{" + ",".join(choices) + "}" if choices else name.upper()
        parser.add_argument(_flag(name), dest=name, metavar=metavar, help=help_text)
    return parser


def _flag_place(flags: Mapping[str, Any]) -> Callable[[tuple[Any, ...]], str]:
    """Names a problem by its flag when the value came from one ('argument --num-envs: ')."""
    in_yaml = yaml_place(TrainConfig)

    def where(loc: tuple[Any, ...]) -> str:
        if len(loc) == 1 and loc[0] in flags:
            return f"argument {_flag(str(loc[0]))}: "
        return in_yaml(loc)

    return where


def _checked_flags(flags: Mapping[str, Any], environ: Mapping[str, str] | None) -> dict[str, Any]:
    """The flags, ${VAR}-expanded, after each one's own checks (type, range): a bad flag is
    named as such before it meets the YAML or a checkpoint."""
    environ = os.environ if environ is None else environ
    problems: list[str] = []
    out = {k: expand_env(v, environ, f"argument {_flag(k)}:", problems) for k, v in flags.items()}
    try:
        TrainConfig.model_validate(out)
    except ValidationError as e:
        own = [err for err in e.errors() if len(err["loc"]) == 1 and err["loc"][0] in flags]
        problems.extend(problems_of(own, TrainConfig, _flag_place(flags)))
    if problems:
        raise ConfigError("", problems)
    return out


def resolve(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> TrainConfig:
    """defaults <- the newest checkpoint's saved config <- YAML (`--config`) <- the flags given."""
    flags = {name: getattr(args, name) for name in train_fields() if hasattr(args, name)}
    config = getattr(args, "config", None)
    flags = _checked_flags(flags, environ)
    yaml_train = yaml_section(read_yaml(Path(config)), "train", []) if config else {}
    run_name = flags.get("run_name") or (Path(config).stem if config else None)
    runs_root = flags.get("runs_root") or yaml_train.get("runs_root") or "runs"
    base = checkpoint_settings(Path(str(runs_root)) / run_name) if run_name else {}
    if config:
        train = load_run_config(config, overrides=flags, environ=environ, base=base).train
    else:
        train = make_train_config(flags, "", environ, where=_flag_place(flags), base=base)
    check_run_rom(train, base.get("rom"))
    return train


def _unknown_flags(extras: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """One line per word argparse did not take, with the likeliest intended flag."""
    known = [s for a in parser._actions for s in a.option_strings]
    words = [w.split("=", 1)[0] for w in extras if w.startswith("-")]
    if not words:
        return [f"unexpected argument {extras[0]!r}; every option is a --flag VALUE pair"]
    out = []
    for word in words:
        guess = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
        hint = f"; did you mean {guess[0]}?" if guess else "; see --help"
        out.append(f"unknown option {word}{hint}")
    return out


def parse_train_args(
    argv: list[str] | None = None, environ: Mapping[str, str] | None = None
) -> TrainConfig:
    """train_big's whole option handling: parse, resolve; on any problem one
    'daddy.train_big: error: ...' line on stderr and exit 2."""
    parser = build_parser()
    try:
        args, extras = parser.parse_known_args(argv)
        if extras:
            raise ConfigError("", _unknown_flags(extras, parser))
        return resolve(args, environ)
    except ConfigError as e:
        raise SystemExit(report("daddy.train_big", e)) from None


def main(argv: list[str] | None = None) -> int:
    """`python -m daddy.config runs/x.yaml ...`: validate run configs, the ROM each one runs
    (by the ROM rule; the file checked) and that it is the ROM of the run's checkpoint and
    savestates; '<path>: ok (<the ROM>)' each, or one 'daddy.config: error: ...' line, exit 2."""
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        return report("daddy.config", ConfigError("", ["give run configs: runs/NAME.yaml ..."]))
    for p in paths:
        try:
            train = load_run_config(p).train
            base = checkpoint_settings(Path(train.runs_root) / str(train.run_name))
            rom = check_run_rom(train, base.get("rom"))
        except ConfigError as e:
            e.source = e.source or str(p)
            return report("daddy.config", e)
        print(f"{p}: ok ({rom.describe()})")
    return 0

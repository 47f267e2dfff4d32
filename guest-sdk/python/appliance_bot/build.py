"""Builds a Python bot into a component:

    python -m appliance_bot.build app.py -o bot.wasm

runs componentize-py (pinned in guest-sdk/python/requirements.txt) against
world `command-event-bot` of the bot WIT, with the app's directory and this
SDK on the module path. componentize-py imports the app at build time and
snapshots the interpreter (Wizer), so the decorators, the command list and
every module the app imports are ready when an instance starts.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

WORLD = "command-event-bot"
SDK_ROOT = Path(__file__).resolve().parent.parent

# What componentize-py imports first: the app (its decorators register the
# routes), the host bindings and the exports. Written to a temporary
# directory at each build.
ENTRY = """\
import {app}  # the bot's routes, declared at build time
from appliance_bot import _host
from appliance_bot.bot import the_bot
from appliance_bot._export import WitWorld

the_bot()  # exactly one Bot(): refuse the build, not the first interaction
# The node gives a bot no filesystem: a module not imported now cannot be
# imported later. This imports the host bindings into the snapshot.
_host.host()
"""


class BuildError(Exception):
    pass


def find_wit(explicit: str | None) -> Path:
    """The WIT directory: --wit, else the SDK's copy (`appliance-sdk/wit`
    in a bot made by `appliance new --lang py`), else the repository's
    guest-sdk/wit."""
    candidates = [Path(explicit)] if explicit else [SDK_ROOT / "wit", SDK_ROOT.parent / "wit"]
    for candidate in candidates:
        if (candidate / "world.wit").is_file():
            return candidate
    raise BuildError(f"no world.wit in {' or '.join(str(c) for c in candidates)}; pass --wit DIR")


def find_componentize_py() -> str:
    beside = Path(sys.executable).parent / "componentize-py"
    if beside.is_file():
        return str(beside)
    found = shutil.which("componentize-py")
    if found:
        return found
    raise BuildError(
        "componentize-py is not installed; run: "
        f"pip install --require-hashes -r {SDK_ROOT / 'requirements.txt'}"
    )


def build(app: Path, output: Path, wit: Path, quiet: bool = True) -> None:
    if not app.is_file() or app.suffix != ".py":
        raise BuildError(f"{app} is not a Python file")
    module = app.stem
    if not module.isidentifier():
        raise BuildError(f"{app.name}: the file name must be a Python module name")
    tool = find_componentize_py()
    with tempfile.TemporaryDirectory(prefix="appliance-py-") as entry_dir:
        Path(entry_dir, "appliance_main.py").write_text(ENTRY.format(app=module))
        command = [tool, "-d", str(wit), "-w", WORLD, "componentize"]
        for path in (app.resolve().parent, SDK_ROOT, Path(entry_dir)):
            command += ["-p", str(path)]
        command += ["-o", str(output), "appliance_main"]
        if quiet:
            command.insert(1, "-q")
        result = subprocess.run(command)
        if result.returncode != 0:
            raise BuildError(f"componentize-py failed (exit {result.returncode}) building {app}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m appliance_bot.build", description=__doc__.splitlines()[0])
    parser.add_argument("app", type=Path, help="the bot's main module (app.py)")
    parser.add_argument("-o", "--output", type=Path, help="the component to write [default: APP.wasm]")
    parser.add_argument("--wit", help="the directory holding world.wit")
    parser.add_argument("-v", "--verbose", action="store_true", help="show componentize-py's output")
    args = parser.parse_args(argv)
    output = args.output or args.app.with_suffix(".wasm")
    try:
        build(args.app, output, find_wit(args.wit), quiet=not args.verbose)
    except BuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    size = os.path.getsize(output)
    print(f"built {output} ({size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

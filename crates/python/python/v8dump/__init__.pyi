from os import PathLike
from typing import Any, Dict, List, Literal, Optional, Tuple, Union, overload

Address = Union[int, str]
Json = Dict[str, Any]
PathArg = Union[str, PathLike]

class V8DumpError(Exception): ...

class Core:
    """An opened core. Every method returns the answer `v8dump <command> --json` prints (a dict
    with `schema_version`, `command`, `partial` and the answer's fields), or with text=True the
    text the command prints."""

    def info(self, pages: bool = False, text: bool = False) -> Any: ...
    def histogram(
        self,
        all: bool = False,
        detailed: bool = False,
        retained: bool = False,
        top: Optional[int] = None,
        all_types: bool = False,
        text: bool = False,
    ) -> Any: ...
    def instances(
        self, name: str, all: bool = False, limit: Optional[int] = None, skip: int = 0, text: bool = False
    ) -> Any: ...
    def inspect(
        self, address: Address, depth: int = 1, entries: int = 100, string_length: int = 1000, text: bool = False
    ) -> Any: ...
    def source(self, address: Address, context: int = 0, skip: int = 0, text: bool = False) -> Any: ...
    def frame_source(
        self, fp: Address, tid: Optional[int] = None, context: int = 0, skip: int = 0, text: bool = False
    ) -> Any: ...
    def summary(self, address: Address) -> str: ...
    def findrefs(self, address: Address, limit: Optional[int] = None, text: bool = False) -> Any: ...
    def findrefs_property(self, name: str, limit: Optional[int] = None, text: bool = False) -> Any: ...
    def findrefs_string(self, string: str, limit: Optional[int] = None, text: bool = False) -> Any: ...
    def retainers(self, address: Address, paths: int = 1, depth: int = 64, text: bool = False) -> Any: ...
    def top(self, limit: int = 20, text: bool = False) -> Any: ...
    def leaks(
        self, top: int = 5, threshold: float = 0.10, min_size: Optional[Union[int, str]] = None, text: bool = False
    ) -> Any: ...
    def threads(self) -> int: ...
    def bt(
        self, all_threads: bool = False, args: bool = False, frames: Optional[int] = None, text: bool = False
    ) -> Any: ...
    def nodeinfo(self, show_secrets: bool = False, text: bool = False) -> Any: ...
    def handles(self, text: bool = False) -> Any: ...
    def report(self, text: bool = False) -> Any: ...
    def heapsnapshot(self, path: PathArg, text: bool = False) -> Any: ...
    def counts(self) -> Tuple[int, int]: ...

def analyze(
    core: PathArg,
    executable: Optional[PathArg] = None,
    exe_dirs: Optional[List[PathArg]] = None,
) -> Json: ...

def diff(
    core_a: PathArg,
    core_b: PathArg,
    executable: Optional[PathArg] = None,
    force: bool = False,
    all: bool = False,
    top: Optional[int] = None,
    by_holder: bool = False,
    max_growth: Optional[Union[int, str]] = None,
    max_holder_growth: Optional[Union[int, str]] = None,
    max_growth_of: Optional[Dict[str, Union[int, str]]] = None,
    text: bool = False,
) -> Any: ...

def open_live(
    pid: int,
    threads: List[Tuple[int, List[int]]],
    executable: Optional[PathArg] = None,
    force: bool = False,
) -> Core: ...

def open(
    core: PathArg,
    executable: Optional[PathArg] = None,
    force: bool = False,
    allow_truncated: bool = False,
    exe_dirs: Optional[List[PathArg]] = None,
    layout: Optional[str] = None,
) -> Core: ...

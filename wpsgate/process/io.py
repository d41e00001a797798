"""Input and output declarations of a process, and the values a handler sees.

Declarations (``LiteralInput``, ``ComplexInput``, ``BoundingBoxInput`` and the
outputs) carry what DescribeProcess advertises and what a request is checked
against.  ``InputData`` and ``OutputData`` are the run-time objects of a handler:
``request.inputs['x'][0].data/.file/.stream/.url`` and
``response.outputs['y'].data/.file``.  All of them pickle, because a job crosses
a process boundary (a worker, or a compute node) before its handler runs.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from .formats import Format, extension_for
from .literals import check_allowed, literal_type, normalise_allowed_values
from .translations import normalise_translations
from .validation import MODE


@dataclass(frozen=True)
class Metadata:
    """An ows:Metadata link (title, href, role)."""

    title: str
    href: str | None = None
    role: str | None = None
    type: str = "simple"


@dataclass(frozen=True)
class UOM:
    """A unit of measure; plain strings work as well."""

    uom: str
    reference: str | None = None

    def __str__(self) -> str:
        return self.uom


def _uoms(uoms: Iterable[Any] | None) -> tuple[str, ...]:
    return tuple(u.uom if isinstance(u, UOM) else str(u) for u in (uoms or ()))


def _metadata(items: Iterable[Any] | None) -> tuple[Metadata, ...]:
    return tuple(m if isinstance(m, Metadata) else Metadata(str(m)) for m in (items or ()))


class _Described:
    """What every input and output has: identifier, title, abstract, keywords, metadata."""

    kind = ""

    def __init__(self, identifier: str, title: str | None, abstract: str, keywords: Iterable[str] | None,
                 metadata: Iterable[Any] | None, translations: Any = None) -> None:
        if not identifier or not isinstance(identifier, str):
            raise ValueError("an input or output needs a non-empty string identifier")
        self.identifier = identifier
        self.title = title or identifier
        self.abstract = abstract or ""
        self.keywords = tuple(keywords or ())
        self.metadata = _metadata(metadata)
        self.translations = normalise_translations(translations)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.identifier!r})"


class _Input(_Described):
    def __init__(self, identifier: str, title: str | None, abstract: str, keywords: Iterable[str] | None,
                 metadata: Iterable[Any] | None, min_occurs: int, max_occurs: int, mode: int,
                 translations: Any = None) -> None:
        super().__init__(identifier, title, abstract, keywords, metadata, translations)
        if min_occurs < 0 or max_occurs < 1 or max_occurs < min_occurs:
            raise ValueError(f"input {identifier}: need 0 <= min_occurs <= max_occurs and max_occurs >= 1")
        self.min_occurs = int(min_occurs)
        self.max_occurs = int(max_occurs)
        self.mode = mode


class LiteralInput(_Input):
    """A literal input: a typed value, optionally limited to allowed values or ranges."""

    kind = "literal"

    def __init__(self, identifier: str, title: str | None = None, data_type: str = "integer",
                 workdir: str | None = None, abstract: str = "", keywords: Iterable[str] | None = None,
                 metadata: Iterable[Any] | None = None, uoms: Iterable[Any] | None = None,
                 min_occurs: int = 1, max_occurs: int = 1, mode: int = MODE.NONE,
                 allowed_values: Any = None, default: Any = None, default_type: Any = None,
                 translations: Any = None) -> None:
        super().__init__(identifier, title, abstract, keywords, metadata, min_occurs, max_occurs, mode, translations)
        self.dtype = literal_type(data_type)
        self.data_type = self.dtype.name
        self.allowed_values = normalise_allowed_values(allowed_values, self.dtype)
        self.uoms = _uoms(uoms)
        self.default = None
        if default is not None:
            self.default = self.dtype.parse(default) if isinstance(default, str) else default
            check_allowed(self.default, self.allowed_values)

    def convert(self, text: str) -> Any:
        """Parse and check one value sent by a client; raises LiteralError."""
        value = self.dtype.parse(text)
        check_allowed(value, self.allowed_values)
        return value


class ComplexInput(_Input):
    """A complex input: a document or file in one of ``supported_formats``."""

    kind = "complex"

    def __init__(self, identifier: str, title: str | None = None, supported_formats: Sequence[Format] | None = None,
                 data_format: Format | None = None, abstract: str = "", keywords: Iterable[str] | None = None,
                 workdir: str | None = None, metadata: Iterable[Any] | None = None, min_occurs: int = 1,
                 max_occurs: int = 1, mode: int = MODE.NONE, default: Any = None, default_type: Any = None,
                 translations: Any = None, max_megabytes: float | None = None) -> None:
        super().__init__(identifier, title, abstract, keywords, metadata, min_occurs, max_occurs, mode, translations)
        if not supported_formats:
            raise ValueError(f"complex input {identifier} needs supported_formats")
        self.supported_formats = tuple(supported_formats)
        self.data_format = data_format or self.supported_formats[0]
        self.max_megabytes = max_megabytes
        self.default = default

    def choose_format(self, mime_type: str | None, encoding: str | None = None,
                      schema: str | None = None) -> Format | None:
        """The supported format a client's choice names (the default when it names none)."""
        if not mime_type and not schema:
            return self.data_format
        for fmt in self.supported_formats:
            if fmt.matches(mime_type, encoding, schema):
                return fmt
        return None


class BoundingBoxInput(_Input):
    """A bounding box in one of ``crss``."""

    kind = "bbox"

    def __init__(self, identifier: str, title: str | None = None, crss: Sequence[str] | None = None,
                 abstract: str = "", keywords: Iterable[str] | None = None, dimensions: int = 2,
                 workdir: str | None = None, metadata: Iterable[Any] | None = None, min_occurs: int = 1,
                 max_occurs: int = 1, mode: int = MODE.NONE, default: Any = None, default_type: Any = None,
                 translations: Any = None) -> None:
        super().__init__(identifier, title, abstract, keywords, metadata, min_occurs, max_occurs, mode, translations)
        self.crss = tuple(crss or ("EPSG:4326",))
        self.dimensions = int(dimensions)
        self.default = default


class LiteralOutput(_Described):
    kind = "literal"

    def __init__(self, identifier: str, title: str | None = None, data_type: str = "string", abstract: str = "",
                 keywords: Iterable[str] | None = None, metadata: Iterable[Any] | None = None,
                 uoms: Iterable[Any] | None = None, translations: Any = None) -> None:
        super().__init__(identifier, title, abstract, keywords, metadata, translations)
        self.dtype = literal_type(data_type)
        self.data_type = self.dtype.name
        self.uoms = _uoms(uoms)


class ComplexOutput(_Described):
    kind = "complex"

    def __init__(self, identifier: str, title: str | None = None, supported_formats: Sequence[Format] | None = None,
                 data_format: Format | None = None, abstract: str = "", keywords: Iterable[str] | None = None,
                 workdir: str | None = None, metadata: Iterable[Any] | None = None, as_reference: bool = False,
                 mode: int = MODE.NONE, translations: Any = None) -> None:
        super().__init__(identifier, title, abstract, keywords, metadata, translations)
        if not supported_formats:
            raise ValueError(f"complex output {identifier} needs supported_formats")
        self.supported_formats = tuple(supported_formats)
        self.data_format = data_format or self.supported_formats[0]
        self.as_reference = bool(as_reference)

    choose_format = ComplexInput.choose_format


class BoundingBoxOutput(_Described):
    kind = "bbox"

    def __init__(self, identifier: str, title: str | None = None, crss: Sequence[str] | None = None,
                 abstract: str = "", keywords: Iterable[str] | None = None, dimensions: int = 2,
                 metadata: Iterable[Any] | None = None, translations: Any = None) -> None:
        super().__init__(identifier, title, abstract, keywords, metadata, translations)
        self.crss = tuple(crss or ("EPSG:4326",))
        self.dimensions = int(dimensions)


@dataclass
class BoundingBox:
    """A bounding box value: lower and upper corner, CRS and dimensions."""

    ll: list[float]
    ur: list[float]
    crs: str | None = None
    dimensions: int = 2

    @property
    def data(self) -> list[float]:
        return [*self.ll, *self.ur]

    @classmethod
    def from_any(cls, value: Any, crs: str | None = None) -> "BoundingBox":
        if isinstance(value, BoundingBox):
            return value
        if isinstance(value, InputData) and isinstance(value._value, BoundingBox):
            return value._value
        numbers = [float(v) for v in value]
        if len(numbers) < 4 or len(numbers) % 2:
            raise ValueError("a bounding box needs 2n corner coordinates (n >= 2)")
        half = len(numbers) // 2
        return cls(numbers[:half], numbers[half:], crs, half)


class InputData:
    """One occurrence of an input, as the handler sees it.

    A literal or bounding box carries its converted value.  A complex input carries
    either its bytes or a file path (inputs by reference are staged to files before
    the job runs); ``.data``, ``.file`` and ``.stream`` convert between the two on
    demand, so a handler can use whichever suits it.
    """

    def __init__(self, identifier: str, kind: str, value: Any = None, *, payload: bytes | None = None,
                 path: str | None = None, url: str | None = None, uom: str | None = None,
                 data_format: Format | None = None, workdir: str | None = None) -> None:
        self.identifier = identifier
        self.kind = kind
        self._value = value
        self._payload = payload
        self._path = path
        self.url = url
        self.uom = uom
        self.data_format = data_format
        self.workdir = workdir

    @property
    def data(self) -> Any:
        if self.kind == "bbox":
            return self._value.data
        if self.kind != "complex":
            return self._value
        raw = self.raw_bytes()
        if self.data_format is not None and self.data_format.binary:
            return raw
        return raw.decode("utf-8", errors="replace")

    def raw_bytes(self) -> bytes:
        if self._payload is None and self._path is not None:
            with open(self._path, "rb") as handle:
                return handle.read()
        return self._payload or b""

    @property
    def file(self) -> str:
        if self.kind != "complex":
            raise AttributeError(f"input {self.identifier} is a {self.kind} input and has no file")
        if self._path is None:
            folder = self.workdir or os.getcwd()
            ext = extension_for(self.data_format.mime_type) if self.data_format else ".dat"
            path = os.path.join(folder, f"input_{self.identifier}_{id(self):x}{ext}")
            with open(path, "wb") as handle:
                handle.write(self._payload or b"")
            self._path = path
        return self._path

    @property
    def stream(self) -> io.IOBase:
        """An open file: text for text formats, binary otherwise."""
        if self.data_format is not None and self.data_format.binary:
            return open(self.file, "rb")
        return open(self.file, "r", encoding="utf-8", errors="replace")

    # bounding box conveniences (PyWPS names)
    @property
    def ll(self) -> list[float]:
        return self._value.ll

    @property
    def ur(self) -> list[float]:
        return self._value.ur

    @property
    def crs(self) -> str | None:
        return self._value.crs if isinstance(self._value, BoundingBox) else None

    @property
    def dimensions(self) -> int:
        return self._value.dimensions if isinstance(self._value, BoundingBox) else 0

    def __repr__(self) -> str:
        return f"InputData({self.identifier!r}, {self.kind})"


class OutputData:
    """One output, as the handler fills it: set ``.data`` or ``.file`` (and ``.uom``, ``.data_format``)."""

    def __init__(self, declaration: Any) -> None:
        self.identifier = declaration.identifier
        self.kind = declaration.kind
        self.declaration = declaration
        self.data_format = getattr(declaration, "data_format", None)
        self.uom: str | None = None
        self.crs: str | None = None
        self.url: str | None = None  # a complex output that lives elsewhere: always answered by reference
        self._data: Any = None
        self._file: str | None = None

    @property
    def data(self) -> Any:
        if self._data is None and self._file is None and self.url is not None:
            return self.url  # a RawDataOutput of an output that lives elsewhere is its URL
        if self._data is None and self._file is not None:
            with open(self._file, "rb") as handle:
                raw = handle.read()
            return raw if self.data_format is not None and self.data_format.binary else raw.decode("utf-8", "replace")
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        self._data = value
        self._file = None

    @property
    def file(self) -> str | None:
        return self._file

    @file.setter
    def file(self, path: str) -> None:
        self._file = os.path.abspath(path)
        self._data = None

    @property
    def is_set(self) -> bool:
        return self._data is not None or self._file is not None or self.url is not None

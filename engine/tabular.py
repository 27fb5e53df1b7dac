"""Reading and writing the spreadsheets pääkäyttäjät keep (.xlsx and Excel-flavoured .csv).

Reading is deliberately forgiving about layout (title rows above the header, Finnish or
Swedish Excel's semicolons, Windows-1252) and strict about content: only a real xlsx
(zip) or plain text is accepted, nothing is evaluated, and formulas are read as their
cached values. Writing neutralises anything a spreadsheet would run as a formula.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import Enum
from functools import lru_cache

from .errors import EngineError

MAX_ROWS = 200_000
MAX_FILE_BYTES = 20 * 1024 * 1024  # callers check the upload size; a list of a few thousand rows is < 1 MB
MAX_UNCOMPRESSED_BYTES = 300 * 1024 * 1024  # refuse zip bombs before openpyxl inflates them
HEADER_SEARCH_ROWS = 15

XLSX_EXTENSIONS = (".xlsx", ".xlsm")
TEXT_EXTENSIONS = (".csv", ".txt")
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the old binary .xls

TABLE_ERROR_TEXT: dict[str, str] = {
    "unknown_file_type": "{filename}: only .xlsx and .csv files can be read",
    "xls_not_supported": "{filename} is an old Excel .xls file; save it as .xlsx or .csv and try again",
    "not_xlsx": "{filename} is not a valid .xlsx file",
    "not_text": "{filename} is not a text (.csv) file",
    "unreadable_file": "{filename} could not be read: {reason}",
    "file_too_large": "{filename} is larger than {limit} bytes",
    "sheet_not_found": "{filename} has no sheet called {sheet!r} (sheets: {sheets})",
    "no_header_row": "{filename}: no header row found",
    "too_many_rows": "{filename} has more than {limit} rows",
}


class TableError(EngineError):
    """A file that cannot be read as a table. ``code`` and ``params`` let the web translate it."""

    code = "table_error"

    def __init__(self, code: str, **params):
        super().__init__(TABLE_ERROR_TEXT.get(code, code).format(**params), **params)
        self.code = code

    def text(self) -> str:
        return str(self)


@dataclass
class Row:
    number: int  # as Excel shows it: 1-based, counting the header row and any title rows above it
    values: dict[str, object]


@dataclass
class Table:
    headers: list[str]
    rows: list[Row] = field(default_factory=list)
    header_row: int = 1


def normalise_header(text: object) -> str:
    """Headers compare case-insensitively with runs of whitespace collapsed ("Voimassa  asti " = "voimassa asti")."""
    return " ".join(str(text).split()).casefold() if text is not None else ""


# -- reading -----------------------------------------------------------------------------------


def read_table(
    data: bytes,
    filename: str,
    *,
    sheet: str | None = None,
    header_row: int | None = None,
    known_headers: Iterable[str] = (),
) -> Table:
    """Read the first sheet (or ``sheet``) of an xlsx, or a csv/txt file, into rows keyed by header text.

    ``header_row`` is the Excel row number of the header; without it the header is the first of the
    first 15 rows naming at least two ``known_headers``, else the one naming most, else the first non-empty row.
    """
    known = {normalise_header(h) for h in known_headers} - {""}
    name = filename.lower()
    if data.startswith(OLE_MAGIC) or name.endswith(".xls"):
        raise TableError("xls_not_supported", filename=filename)
    if name.endswith(XLSX_EXTENSIONS):
        if not data.startswith(ZIP_MAGIC):
            raise TableError("not_xlsx", filename=filename)
        rows = _xlsx_rows(data, filename, sheet)
    elif name.endswith(TEXT_EXTENSIONS):
        if data.startswith(ZIP_MAGIC):  # an xlsx saved with the wrong name is still an xlsx
            rows = _xlsx_rows(data, filename, sheet)
        else:
            rows = _csv_rows(_decode(data, filename), filename, known, header_row)
    else:
        raise TableError("unknown_file_type", filename=filename)
    return _build_table(rows, filename, known, header_row)


def _xlsx_rows(data: bytes, filename: str, sheet: str | None) -> Iterator[tuple[int, list]]:
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_UNCOMPRESSED_BYTES:
                raise TableError("unreadable_file", filename=filename, reason="the file expands too much")
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    except TableError:
        raise
    except Exception as err:  # openpyxl raises many kinds (KeyError, InvalidFileException, zip errors)
        raise TableError("unreadable_file", filename=filename, reason=type(err).__name__) from err
    try:
        if sheet is not None:
            if sheet not in workbook.sheetnames:
                raise TableError(
                    "sheet_not_found", filename=filename, sheet=sheet, sheets=", ".join(workbook.sheetnames)
                )
            worksheet = workbook[sheet]
        else:
            worksheet = workbook.worksheets[0]
        if not hasattr(worksheet, "reset_dimensions"):  # a chart sheet
            raise TableError("no_header_row", filename=filename)
        worksheet.reset_dimensions()  # some writers record wrong dimensions; read what is there
        rows = []
        for number, values in enumerate(worksheet.iter_rows(min_row=1, values_only=True), start=1):
            if values.count(None) < len(values):  # styled but empty rows are skipped
                rows.append((number, list(values)))
                if len(rows) > MAX_ROWS + HEADER_SEARCH_ROWS:
                    raise TableError("too_many_rows", filename=filename, limit=MAX_ROWS)
        return iter(rows)
    except TableError:
        raise
    except Exception as err:
        raise TableError("unreadable_file", filename=filename, reason=type(err).__name__) from err
    finally:
        workbook.close()


def _decode(data: bytes, filename: str) -> str:
    """UTF-8 (with or without BOM), UTF-16 (Excel's "Unicode text"), else Windows-1252 as Excel writes it."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as err:
            raise TableError("not_text", filename=filename) from err
    if b"\x00" in data[:4096]:
        raise TableError("not_text", filename=filename)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # the five bytes cp1252 leaves undefined


DELIMITERS = (";", ",", "\t")


def _count_outside_quotes(line: str, delimiter: str) -> int:
    count, quoted = 0, False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif char == delimiter and not quoted:
            count += 1
    return count


def _csv_records(text: str, delimiter: str) -> Iterator[list[str]]:
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


def _detect_delimiter(text: str, known: set[str], header_row: int | None) -> str:
    """The delimiter that splits the header line best (csv.Sniffer guesses wrong on short Finnish files)."""
    head = text[:65536]
    if known and header_row is None:
        best, best_hits = None, 1
        for delimiter in DELIMITERS:
            try:
                for index, record in enumerate(_csv_records(head, delimiter)):
                    if index >= HEADER_SEARCH_ROWS:
                        break
                    hits = len({normalise_header(c) for c in record} & known)
                    if hits > best_hits:
                        best, best_hits = delimiter, hits
            except csv.Error:
                continue
        if best:
            return best
    lines = [line for line in head.splitlines() if line.strip()]
    if header_row is not None:
        physical = head.splitlines()
        lines = physical[header_row - 1 : header_row] or lines
    for line in lines[:HEADER_SEARCH_ROWS]:
        counts = {d: _count_outside_quotes(line, d) for d in DELIMITERS}
        delimiter = max(DELIMITERS, key=lambda d: counts[d])  # ties go to ";", what Finnish Excel writes
        if counts[delimiter]:
            return delimiter
    return ","


def _csv_rows(text: str, filename: str, known: set[str], header_row: int | None) -> Iterator[tuple[int, list]]:
    delimiter = _detect_delimiter(text, known, header_row)
    try:
        for number, record in enumerate(_csv_records(text, delimiter), start=1):
            if number > MAX_ROWS + HEADER_SEARCH_ROWS:
                raise TableError("too_many_rows", filename=filename, limit=MAX_ROWS)
            yield number, record
    except csv.Error as err:
        raise TableError("unreadable_file", filename=filename, reason=str(err)) from err


def _cell(value: object) -> object:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _header_hits(cells: list, known: set[str]) -> int:
    return len({normalise_header(c) for c in cells if c is not None} & known)


def _build_table(rows: Iterator[tuple[int, list]], filename: str, known: set[str], header_row: int | None) -> Table:
    pending: list[tuple[int, list]] = []  # rows read while looking for the header
    header: tuple[int, list] | None = None
    for number, cells in rows:
        cells = [_cell(c) for c in cells]
        if header_row is not None:
            if number == header_row:
                header = (number, cells)
                break
            continue
        if not any(c is not None for c in cells):
            continue
        pending.append((number, cells))
        if _header_hits(cells, known) >= 2:
            header = (number, cells)
            break
        if len(pending) >= HEADER_SEARCH_ROWS:
            break
    if header is None and header_row is None and pending:
        # no row names two known headers: take the one naming most (a title row names none), else the first
        index = max(range(len(pending)), key=lambda i: (_header_hits(pending[i][1], known), -i))
        header = pending[index]
        rest: Iterable[tuple[int, list]] = [*pending[index + 1 :], *rows]
    else:
        rest = rows
    if header is None or not any(c is not None for c in header[1]):
        raise TableError("no_header_row", filename=filename)

    headers, columns = _unique_headers(header[1])
    table = Table(headers=headers, header_row=header[0])
    for number, cells in rest:
        width = len(cells)
        values = {name: _cell(cells[index]) if index < width else None for index, name in columns}
        if list(values.values()).count(None) < len(values):
            table.rows.append(Row(number, values))
            if len(table.rows) > MAX_ROWS:
                raise TableError("too_many_rows", filename=filename, limit=MAX_ROWS)
    return table


def _unique_headers(cells: list) -> tuple[list[str], list[tuple[int, str]]]:
    """Header texts (stripped, empty ones dropped), a repeated name suffixed " (2)", " (3)"…"""
    headers: list[str] = []
    columns: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for index, cell in enumerate(cells):
        text = " ".join(str(cell).split()) if cell is not None else ""
        if not text:
            continue
        key = text.casefold()
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            text = f"{text} ({seen[key]})"
        headers.append(text)
        columns.append((index, text))
    return headers, columns


# -- dates -------------------------------------------------------------------------------------

OPEN_ENDED = frozenset(
    {
        "",
        "-",
        "–",
        "—",
        "toistaiseksi",
        "toistaiseksi voimassa",
        "voimassa toistaiseksi",
        "tills vidare",
        "tillsvidare",
        "until further notice",
        "indefinitely",
        "open-ended",
    }
)
EXCEL_EPOCH = date(1899, 12, 30)  # serial 1 = 1.1.1900 once Excel's phantom 29.2.1900 is accounted for
_SERIAL = re.compile(r"^\d{1,6}(?:[.,]\d+)?$")
_TIME = re.compile(r"^\d{1,2}[:.]\d{2}(?:[:.]\d{2}(?:[.,]\d+)?)?$")
_FINNISH = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})\.?$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_SLASHED = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def is_open_ended(value: object) -> bool:
    """True for an empty cell or a marker like "toistaiseksi" that means no end date."""
    return value is None or (isinstance(value, str) and " ".join(value.split()).casefold() in OPEN_ENDED)


def _from_serial(serial: float) -> date:
    if not 1 <= serial <= 100_000:
        raise ValueError(f"{serial} is not an Excel date")
    days = int(serial)
    if days == 60:
        raise ValueError("29.2.1900 does not exist")
    return EXCEL_EPOCH + timedelta(days=days + (1 if days < 60 else 0))


def parse_date(value: object) -> date | None:
    """A date from a cell as people type them in Finland; None for empty or "toistaiseksi" (caller flags it).

    Raises ValueError for anything else, never guessing between day and month orders.
    """
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a date")
    if isinstance(value, int | float):
        return _from_serial(value)
    if is_open_ended(value):
        return None
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a date")
    return _parse_date_text(value.strip())


@lru_cache(maxsize=4096)  # a list repeats the same few dates many times
def _parse_date_text(text: str) -> date:
    value = text
    if _SERIAL.match(text):
        return _from_serial(float(text.replace(",", ".")))
    parts = re.split(r"[ T]+", text, maxsplit=1)
    if len(parts) == 2 and not _TIME.match(parts[1]):
        raise ValueError(f"{value!r} is not a date")
    text = parts[0]
    if match := _FINNISH.match(text):
        day, month, year = (int(g) for g in match.groups())
        year = year + 2000 if len(match.group(3)) == 2 else year
    elif match := _ISO.match(text):
        year, month, day = (int(g) for g in match.groups())
    elif match := _SLASHED.match(text):
        day, month, year = (int(g) for g in match.groups())
    else:
        raise ValueError(f"{value!r} is not a date")
    if not 1900 <= year <= 2200:
        raise ValueError(f"{value!r} is not a plausible date")
    return date(year, month, day)


# -- writing -----------------------------------------------------------------------------------

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """Prefix ' to text a spreadsheet would read as a formula (OWASP CSV injection); other values unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def _plain(value: object) -> object:
    if isinstance(value, Enum):
        return value.value
    return value


def _csv_text(value: object) -> str:
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value.day}.{value.month}.{value.year} {value:%H:%M}"
    if isinstance(value, date):
        return f"{value.day}.{value.month}.{value.year}"
    return str(neutralise(value if isinstance(value, str) else str(value)))


def write_csv(headers: list[str], rows: Iterable[list]) -> bytes:
    """Excel-ready csv: UTF-8 with BOM, semicolons, CRLF, Finnish dates, formulas neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([_csv_text(h) for h in headers])
    for row in rows:
        writer.writerow([_csv_text(v) for v in row])
    return buffer.getvalue().encode("utf-8-sig")


_SHEET_TITLE_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def _xlsx_value(value: object) -> object:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    value = _plain(value)
    if isinstance(value, str):
        return neutralise(ILLEGAL_CHARACTERS_RE.sub("", value))
    if value is None or isinstance(value, int | float | date | datetime):
        return value
    return neutralise(str(value))


def _width(value: object) -> int:
    if isinstance(value, date):
        return 10
    return len(str(value)) if value is not None else 0


def write_xlsx(headers: list[str], rows: Iterable[list], *, title: str) -> bytes:
    """A one-sheet workbook: bold frozen header, real dates shown d.m.yyyy, text never read as a formula."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    values = [[_xlsx_value(v) for v in row] for row in rows]
    workbook = Workbook(write_only=True)
    sheet_title = _SHEET_TITLE_FORBIDDEN.sub(" ", title).strip()[:31] or "Sheet1"
    worksheet = workbook.create_sheet(title=sheet_title)
    workbook.properties.title = title
    for index, header in enumerate(headers, start=1):
        longest = max([_width(header), *(_width(row[index - 1]) for row in values if index - 1 < len(row))])
        worksheet.column_dimensions[get_column_letter(index)].width = min(max(longest + 2, 8), 60)
    worksheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header_cells = []
    for header in headers:
        cell = WriteOnlyCell(worksheet, value=_xlsx_value(header))
        cell.font = bold
        header_cells.append(cell)
    worksheet.append(header_cells)
    for row in values:
        cells = []
        for value in row:
            cell = WriteOnlyCell(worksheet, value=value)
            if isinstance(value, datetime):
                cell.number_format = "d.m.yyyy h:mm"
            elif isinstance(value, date):
                cell.number_format = "d.m.yyyy"
            cells.append(cell)
        worksheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()

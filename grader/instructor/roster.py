"""Who is in the class: the submissions folder or roster file read into one ``Source`` per student, with safe names."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from grader.errors import UsageError

NAME_RULE = "[A-Za-z0-9_.-]+"
_BAD_NAME_CHAR = re.compile(r"[^A-Za-z0-9_.-]")
CREDENTIALS = re.compile(r"(://)[^/@\s]+@")  # the user:token@ of a URL, never to be shown
_SCP_LIKE = re.compile(r"^[^/\\:]+:")  # git's scp-like ``[user@]host:path``: a colon before any slash
# The schemes git clones without a remote helper of its own ("GIT URLS" in git-clone(1)).
GIT_SCHEMES = ("https", "http", "ssh", "git", "git+ssh", "ssh+git", "file", "ftps", "ftp")


@dataclass(frozen=True)
class Source:
    """One student's submission: a local folder, or a git repository to clone."""

    student: str  # a safe name: files are named after it
    location: str  # what the results call the source: the folder, or the URL without credentials
    git_url: str | None = None  # what ``git clone`` is given; None for a folder
    note: str = ""  # why the name differs from what the input said, if it does

    @property
    def is_git(self) -> bool:
        """Whether this submission is cloned from a repository."""
        return self.git_url is not None


def sanitize_name(raw: str) -> str:
    """A file-safe student name: characters outside ``[A-Za-z0-9_.-]`` become ``_``.

    A leading ``.`` or ``-`` becomes ``_`` too, so a name is never hidden,
    ``..``, or read as an option or a spreadsheet formula.
    """
    name = _BAD_NAME_CHAR.sub("_", raw.strip())
    if name[:1] in (".", "-"):
        name = "_" + name[1:]
    return name


def name_from_url(url: str) -> str:
    """The repository name at the end of a URL or path, without ``.git``."""
    last = re.split(r"[/:\\]", url.rstrip("/\\"))[-1]
    return last.removesuffix(".git")


def without_credentials(url: str) -> str:
    """A URL with its ``user:token@`` part removed, since results are shared."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.scheme and "@" in parts.netloc:
        return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    return url


def read_sources(submissions: Path, out: Path | None) -> list[Source]:
    """The students of a folder of checkouts or of a roster file; UsageError for unusable input.

    ``out``, the results folder, is never a student when it is inside the folder.
    """
    if submissions.is_dir():
        sources = _folder_sources(submissions, out)
    elif submissions.is_file():
        sources = _roster_sources(submissions)
    elif submissions.exists():
        raise UsageError(f"{submissions} is neither a folder of submissions nor a roster file")
    else:
        raise UsageError(f"submissions {submissions} do not exist")
    _refuse_duplicates(sources)
    return sources


def _named(raw: str, location: str, git_url: str | None) -> Source:
    name = sanitize_name(raw)
    if not name.strip("_."):
        # Nothing readable is left (a name in another script): a stable name from its hash.
        name = f"student-{hashlib.sha256(raw.encode()).hexdigest()[:8]}"
    note = "" if name == raw else f"student name {raw!r} is not {NAME_RULE}: filed as {name!r}"
    return Source(name, location, git_url, note)


def _folder_sources(folder: Path, out: Path | None) -> list[Source]:
    if (folder / "assignments").is_dir():
        raise UsageError(f"{folder} looks like one submission (it has assignments/): "
                         "batch takes a folder holding one subfolder per student")
    skip = {out.resolve()} if out is not None else set()
    children = sorted(p for p in folder.iterdir()
                      if p.is_dir() and not p.name.startswith(".") and p.resolve() not in skip)
    if not children:
        raise UsageError(f"{folder} has no student folders (one subfolder per student)")
    return [_named(p.name, str(p.resolve()), None) for p in children]


def _roster_sources(roster: Path) -> list[Source]:
    try:
        text = roster.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read roster {roster}: {exc}") from None
    sources = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = _fields(line)
        if not fields:
            continue
        where = f"{roster}, line {number}"
        if len(fields) > 2:
            raise UsageError(f"{where}: expected `URL` or `NAME URL`, got {len(fields)} fields")
        _refuse_unclonable(fields[-1], roster, where)
        url = _resolve_local(fields[-1], roster.parent)
        raw_name = fields[0] if len(fields) == 2 else name_from_url(fields[-1])
        shown = without_credentials(url)
        sources.append(_named(raw_name, shown, url))
    if not sources:
        raise UsageError(f"roster {roster} lists no repositories (one `URL` or `NAME URL` per line)")
    return sources


def _fields(line: str) -> list[str]:
    # A comment starts a line or follows a space: a URL may hold a "#" of its own.
    if line.lstrip().startswith("#"):
        return []
    return re.split(r"\s#", line, maxsplit=1)[0].split()


def _refuse_unclonable(url: str, roster: Path, where: str) -> None:
    """UsageError, before anything is cloned, for an entry git could not clone, or a file that is no roster.

    A URL needs a scheme git speaks (``htps://`` would reach git as a remote
    helper named "htps"); a local path must exist, which is what tells a
    roster from another file given by mistake (``grades.csv``, a JSON file).
    """
    shown = without_credentials(url)
    if "://" in url:
        scheme = url.split("://", 1)[0].lower()
        if scheme not in GIT_SCHEMES:
            raise UsageError(f"{where}: {shown} is not a URL git can clone: its scheme {scheme}:// is not one of "
                             f"{', '.join(s + '://' for s in GIT_SCHEMES)} (a typo?)")
        return
    if "::" in url:  # git's <transport>::<address>: a remote helper, never a student repository
        raise UsageError(f"{where}: {shown} is not a URL git can clone here (use https://, ssh:// or host:path)")
    if _SCP_LIKE.match(url):
        return
    path = Path(url).expanduser()
    if not (path if path.is_absolute() else roster.parent / path).exists():
        raise UsageError(f"{where}: {shown!r} is neither a git URL, host:path nor an existing folder: is "
                         f"{roster.name} a roster? (one `URL` or `NAME URL` per line)")


def _resolve_local(url: str, base: Path) -> str:
    """A local repository path relative to the roster's folder; URLs are kept as they are."""
    is_url = "://" in url or _SCP_LIKE.match(url) is not None  # scheme, or scp-like host:path
    if is_url:
        return url
    path = Path(url).expanduser()
    return str(path if path.is_absolute() else (base / path).resolve())


def _refuse_duplicates(sources: list[Source]) -> None:
    # Case-insensitively: on a case-insensitive disk, Alice.json and alice.json are one file.
    seen: dict[str, Source] = {}
    for source in sources:
        earlier = seen.setdefault(source.student.lower(), source)
        if earlier is not source:
            raise UsageError(f"two submissions would be filed as student {source.student!r} "
                             f"({earlier.location} and {source.location}): give them distinct names")

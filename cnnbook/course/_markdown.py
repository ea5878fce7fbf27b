"""MyST-only syntax as plain Markdown, so that a chapter reads well in Colab and in a
Jupyter without jupyterlab-myst (``cnnbook-student --plain-markdown``).

- directive blocks (```` ```{exercise} Title ````, ``:::{note}``, ``::::{admonition}``,
  ``{solution-start}``...) become a bold, numbered title and their body:
  "**Exercise 5.2 (Title)**", a quoted "**Note**", "**Solution to Exercise 5.2**";
- labelled equations ``$$ ... $$ (label)`` keep their number as ``\\tag{5.3}``;
- roles become text: ``{eq}`label``` "(5.3)", ``{numref}``/``{ref}`` "Exercise 5.2" or
  their text, ``{cite}`key``` "(Chen, 2021)", ``{cite:t}`` "Chen (2021)", and ``{doc}``
  a link to the page on the published site;
- MyST comments (``% ...``) and targets (``(label)=``) are dropped.

Numbers follow the site: equations and exercises are numbered per chapter, in order.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Book", "load_book", "number_labels", "to_plain_markdown"]

DEFAULT_SITE = "https://cnn-book.github.io/cnn-book"

_OPEN = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:-]+)\}[ \t]*(?P<arg>.*?)[ \t]*$")
_CODE_FENCE = re.compile(r"^(`{3,}|~{3,})(?!\{)")
_ROLE = re.compile(r"\{(?P<role>[\w:-]+)\}`(?P<text>[^`]+)`")
_OPTION = re.compile(r"^:([\w-]+):[ \t]*(.*)$")
_DISPLAY_LABEL = re.compile(r"^[ \t]*\(([\w:.-]+)\)")
_ADMONITIONS = {"note", "tip", "hint", "important", "warning", "caution", "attention",
                "danger", "error", "seealso"}


@dataclass
class Book:
    """What references need: numbers of labels, citations (key -> (authors, year)), the
    published site and the titles of its pages (path -> title)."""
    labels: dict = field(default_factory=dict)
    citations: dict = field(default_factory=dict)
    site: str = DEFAULT_SITE
    pages: dict = field(default_factory=dict)
    root: Path | None = None


def load_book(folder: Path) -> Book:
    """Citations, the site's address and page titles from the book that holds ``folder``
    (the nearest folder above it with a _config.yml); an empty Book when there is none."""
    root = next((p for p in [folder, *folder.parents] if (p / "_config.yml").is_file()), None)
    book = Book()
    if root is None:
        return book
    config = (root / "_config.yml").read_text(encoding="utf-8")
    book.site = _site(config)
    for bib in re.findall(r"^\s*-\s*(\S+\.bib)\s*$", config, re.MULTILINE):
        if (root / bib).is_file():
            book.citations.update(_bibliography((root / bib).read_text(encoding="utf-8")))
    for page in root.rglob("*.md"):
        heading = re.search(r"^#\s+(.+)$", page.read_text(encoding="utf-8"), re.MULTILINE)
        if heading:
            book.pages[page.relative_to(root).with_suffix("").as_posix()] = heading[1].strip()
    book.root = root
    return book


def _site(config: str) -> str:
    """html.baseurl of _config.yml; else the GitHub Pages address of repository.url."""
    html = re.search(r"^html:\s*\n((?:[ \t]+.*\n|\s*\n)*)", config, re.MULTILINE)
    base = re.search(r"^\s+baseurl:\s*[\"']?([^\"'\s#]+)", html[1], re.MULTILINE) if html else None
    if base:
        return base[1].rstrip("/")
    repo = re.search(r"url:\s*https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?\s*$", config, re.MULTILINE)
    return f"https://{repo[1].lower()}.github.io/{repo[2]}" if repo else DEFAULT_SITE


def _bibliography(text: str) -> dict:
    """key -> (author label, year) for each @entry: "Chen", "Liang and Hu", "He et al."."""
    found = {}
    for entry in re.finditer(r"@\w+\s*\{\s*([^,\s]+)\s*,(.*?)\n\}", text, re.DOTALL):
        fields = dict((k.lower(), v) for k, v in re.findall(r"(\w+)\s*=\s*\{((?:[^{}]|\{[^{}]*\})*)\}", entry[2]))
        names = [n.strip() for n in re.split(r"\s+and\s+", fields.get("author", fields.get("editor", ""))) if n.strip()]
        last = [_clean(n.split(",")[0] if "," in n else n.split()[-1]) for n in names]
        author = (f"{last[0]} et al." if len(last) > 2 else " and ".join(last)) or _clean(fields.get("title", entry[1]))
        found[entry[1]] = (author, _clean(fields.get("year", "n.d.")))
    return found


def _clean(text: str) -> str:
    text = re.sub(r"\\[\"'`^~=.]\{?(\w)\}?", r"\1", text)  # accents: {\"u} -> u
    return re.sub(r"[{}\\]", "", text).strip()


def number_labels(chapter: int, notebook) -> dict:
    """label -> its number on the site: "(5.3)" for equations, "Exercise 5.2" for exercises."""
    labels, equations, exercises = {}, 0, 0
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        for kind, label in _labels(cell.source):
            if kind == "equation":
                equations += 1
                labels[label] = f"({chapter}.{equations})"
            else:
                exercises += 1
                if label:
                    labels[label] = f"Exercise {chapter}.{exercises}"
    return labels


def _labels(text: str):
    """("equation" | "exercise", label) in order of appearance."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        opened = _OPEN.match(line.strip())
        if opened and opened["name"] == "exercise":
            options = _options(lines[i + 1:])
            yield "exercise", options.get("label", "")
    for label in re.findall(r"\$\$[ \t]*\(([\w:.-]+)\)", _display_closings(text)):
        yield "equation", label


def _display_closings(text: str) -> str:
    """The text with every opening $$ blanked, so that only closings can carry a label."""
    parts = text.split("$$")
    return "".join(p + ("$$" if k % 2 == 1 else "  ") for k, p in enumerate(parts[:-1])) + parts[-1]


def _options(lines) -> dict:
    options = {}
    for line in lines:
        found = _OPTION.match(line.strip())
        if not found:
            break
        options[found[1]] = found[2].strip()
    return options


# -- converting a notebook ---------------------------------------------------------------
def to_plain_markdown(nb, chapter: int, book: Book, *, solutions: bool, folder: str = "chapters") -> None:
    """Rewrite the markdown cells of ``nb`` in place; drop those left empty. Without
    ``solutions``, {solution} blocks are dropped (the exercise version). ``folder`` is
    where the notebook lies in the book, for the relative targets of {doc}."""
    state = {"chapter": chapter, "exercise": 0, "equation": 0, "solutions": solutions,
             "book": book, "by_label": {}, "folder": folder}
    kept = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = _convert(cell.source, state).strip("\n")
            if not cell.source.strip():
                continue
        kept.append(cell)
    nb.cells = kept


def _convert(text: str, state: dict) -> str:
    lines, out, i = text.splitlines(), [], 0
    while i < len(lines):
        line = lines[i]
        opened = _OPEN.match(line.strip())
        code = _CODE_FENCE.match(line.strip())
        if opened:
            end = _closing(lines, i + 1, opened["fence"])
            if end is not None:
                out.append(_directive(opened["name"], opened["arg"], lines[i + 1:end], state))
                i = end + 1
                continue
        elif code:
            end = _closing(lines, i + 1, code[1])
            end = len(lines) - 1 if end is None else end
            out += lines[i:end + 1]
            i = end + 1
            continue
        out.append(line)
        i += 1
    return _inline("\n".join(out), state)


def _closing(lines, start: int, fence: str):
    for j in range(start, len(lines)):
        stripped = lines[j].strip()
        if stripped and set(stripped) == {fence[0]} and len(stripped) >= len(fence):
            return j
    return None


def _directive(name: str, arg: str, body: list[str], state: dict) -> str:
    options = _options(body)
    body = body[len(options):]
    if body and body[0].strip() == "---":  # YAML options
        end = next((k for k in range(1, len(body)) if body[k].strip() == "---"), 0)
        body = body[end + 1:]
    while body and not body[0].strip():
        body = body[1:]
    labels = state["book"].labels
    if name == "exercise":
        state["exercise"] += 1
        number = f"{state['chapter']}.{state['exercise']}"
        if options.get("label"):
            state["by_label"][options["label"]] = number
        title = f"**Exercise {number}" + (f" ({_inline(arg, state)})" if arg else "") + "**"
        return title + "\n\n" + _convert("\n".join(body), state)
    if name in ("solution-start", "solution"):
        number = state["by_label"].get(arg) or labels.get(arg, "").replace("Exercise ", "") or "?"
        if name == "solution" and not state["solutions"]:
            return ""
        title = f"**Solution to Exercise {number}**" if state["solutions"] else f"**Your solution to Exercise {number}**"
        return title + ("\n\n" + _convert("\n".join(body), state) if name == "solution" else "")
    if name == "solution-end":
        return ""
    inner = _convert("\n".join(body), state)
    if name in _ADMONITIONS or name == "admonition":
        title = _inline(arg, state) if name == "admonition" and arg else name.capitalize()
        if name == "seealso":
            title = "See also"
        quoted = [f"> {line}" if line.strip() else ">" for line in inner.splitlines()]
        return "\n".join([f"> **{title}**", ">"] + quoted)
    if name == "math":
        return f"$$\n{inner}\n$$"
    if name in ("code", "code-block", "code-cell"):
        return f"```{arg}\n" + "\n".join(body) + "\n```"
    title = _inline(arg, state) if arg else name.replace("-", " ").capitalize()
    return f"**{title}**\n\n{inner}" if inner.strip() else f"**{title}**"


def _inline(text: str, state: dict) -> str:
    """Equation labels, roles, comments and targets of a stretch of Markdown (fenced code
    blocks are left as they are)."""
    out, chunk, fence = [], [], None
    for line in text.splitlines():
        code = _CODE_FENCE.match(line.strip())
        if fence is None and code:
            out += _prose(chunk, state)
            chunk, fence = [], code[1]
            out.append(line)
        elif fence is not None:
            out.append(line)
            if line.strip() and set(line.strip()) == {fence[0]} and len(line.strip()) >= len(fence):
                fence = None
        else:
            chunk.append(line)
    return "\n".join(out + _prose(chunk, state))


def _prose(lines: list[str], state: dict) -> list[str]:
    lines = [line for line in lines if not line.startswith("%") and not re.fullmatch(r"\([\w:.-]+\)=\s*", line)]
    text = _equations("\n".join(lines), state)
    text = _ROLE.sub(lambda m: _role(m["role"], m["text"], state), text)
    return text.split("\n") if lines else []


def _equations(text: str, state: dict) -> str:
    """``$$ ... $$ (label)`` -> ``$$ ... \\tag{5.3} $$``."""
    parts, out = text.split("$$"), []
    for k, part in enumerate(parts):
        if k % 2 == 0 and k > 0:  # text after a closing $$
            found = _DISPLAY_LABEL.match(part)
            if found:
                number = state["book"].labels.get(found[1], "").strip("()")
                if not number:
                    state["equation"] += 1
                    number = f"{state['chapter']}.{state['equation']}"
                math = out.pop()
                out.append(f"{math}\\tag{{{number}}}\n" if math.endswith("\n")
                           else f"{math.rstrip()} \\tag{{{number}}} ")
                part = part[found.end():]
        out.append(part)
    return "$$".join(out)


def _role(role: str, text: str, state: dict) -> str:
    book = state["book"]
    shown, target = _split_target(text)
    if role == "eq":
        return book.labels.get(target, f"({target})")
    if role in ("numref", "ref"):
        number = book.labels.get(target, "")
        if shown:  # {numref}`Exercise %s <label>`
            return shown.replace("%s", number.split()[-1] if number else "?")
        return number or target
    if role == "doc":
        page = _page(target, state.get("folder", "chapters"))
        title = shown or book.pages.get(page, page.rsplit("/", 1)[-1].replace("_", " ").capitalize())
        return f"[{title}]({book.site}/{page}.html)"
    if role.startswith("cite"):
        keys = [k.strip() for k in target.split(",") if k.strip()]
        found = [(k, book.citations.get(k)) for k in keys]
        if role in ("cite:t", "cite:ct"):
            return "; ".join(f"{c[0]} ({c[1]})" if c else f"[{k}]" for k, c in found)
        return "(" + "; ".join(f"{c[0]}, {c[1]}" if c else k for k, c in found) + ")"
    if role == "math":
        return f"${text}$"
    return shown or text


def _split_target(text: str) -> tuple[str, str]:
    """'Some text <label>' -> ('Some text', 'label'); 'label' -> ('', 'label')."""
    found = re.fullmatch(r"(.*?)\s*<([^<>]+)>\s*", text, re.DOTALL)
    return (found[1].strip(), found[2].strip()) if found else ("", text.strip())


def _page(target: str, folder: str) -> str:
    """A {doc} target ('../book/errata' from folder 'chapters', or '/book/notation') as a
    path from the book's root ('book/errata')."""
    parts = [] if target.startswith("/") else folder.split("/")
    for part in target.strip("/").split("/"):
        if part == "..":
            parts = parts[:-1]
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)

"""Builds the needle-bench tool-calling dataset from the catalog modules.

Determinism: every example has its own random.Random seeded from a hash of
(seed, split, index); catalogs are read in sorted order; nothing depends on
dict or set iteration order of unsorted data, the clock or the machine. The
same seed and arguments therefore give byte-identical files.

Held-out splitting (what makes test measure generalisation rather than recall):
- per tool, ~20% of the direct templates (at least one) and, when a tool has
  two or more, ~20% of its indirect templates are test-only, chosen by a hash
  of the template's wording;
- per kind, ~20% of the values (names, cities, times, dates, integers, ...) are
  test-only, also by hash; enum and bool values are part of the tool schema and
  are never held out;
- ~20% of the query wrappers, joiners, fillers and self-correction patterns are
  test-only;
- a text value (a name, a city, a pool phrase) that some template spells out
  stays a train value; a train value whose wording contains a held-out one is
  moved to the held-out side; every train query is checked once more, so no
  held-out text ever reaches train.
"""

import hashlib
import importlib.util
import json
import os
import random
import re
import sys
from dataclasses import dataclass, field

from . import kinds as K
from .schema import PARAM_TYPES, Param, Tool

GENERATOR_VERSION = "1.1.0"
DATASET_NAME = "needle15"

UPSTREAM_CATEGORIES = (
    "smart_kitchen", "pet_care", "personal_finance", "study_education", "creative_tools", "gardening",
    "meetings_collaboration", "home_maintenance", "sports_outdoors", "baby_childcare",
    "subscriptions_accounts", "device_peripherals", "language_learning", "car_maintenance", "event_planning",
)
EVERYDAY_CATEGORIES = ("timers_alarms", "messaging_calls", "smart_home", "device_settings", "navigation")

# Share of each call type, in percent. Order matters: it is the order of the test split's blocks.
CALL_TYPE_MIX = (
    ("single", 40), ("multi", 12), ("none", 10), ("near_miss", 10), ("indirect", 12), ("disfluent", 12),
    ("no_tools", 4),
)
CALL_TYPES = tuple(name for name, _ in CALL_TYPE_MIX)

DEFAULTS = {"seed": 0, "train": 40000, "dev": 1000, "test_per_category": 120, "test_per_everyday": 60,
            "synthetic_values": 0.5}

MIN_TOOLS_UPSTREAM = 8
MIN_TOOLS_EVERYDAY = 2
MIN_DIRECT_TEMPLATES = 6
MAX_TOOLS_PER_EXAMPLE = 10

SLOT_RE = re.compile(r"\{([^{}]*)\}")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
WORD_RE = re.compile(r"[a-z0-9]+")

# Verbs that say nothing about what a tool acts on: two tools sharing only these are unrelated.
GENERIC_NAME_WORDS = frozenset("""
set get add create list start stop update delete check show log send cancel remove find book play turn
track schedule pause resume make open close change view edit record read search enable disable toggle
mark request new my all current info status next to for by of and the a
""".split())


class CatalogError(ValueError):
    """A catalog module cannot be used; the message names module, tool and template."""


# --------------------------------------------------------------------------- loading and validation


@dataclass
class ToolPlan:
    tool: Tool
    category: str
    module: str
    kinds: dict  # param name -> kinds.Kind
    train_templates: list = field(default_factory=list)
    test_templates: list = field(default_factory=list)
    train_indirect: list = field(default_factory=list)
    test_indirect: list = field(default_factory=list)
    near_miss: list = field(default_factory=list)  # resolved ToolPlans
    param_json: dict = field(default_factory=dict)  # name -> upstream-format parameter object

    @property
    def name(self):
        return self.tool.name

    def templates(self, held_out):
        return self.test_templates if held_out else self.train_templates

    def indirect(self, held_out):
        return self.test_indirect if held_out else self.train_indirect


@dataclass
class Category:
    name: str
    title: str
    module: str
    upstream: bool
    tools: list


def default_catalog_dir():
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "catalog")


def _import_module(path):
    stem = os.path.splitext(os.path.basename(path))[0]
    # Named inside the real package so that the modules' "from ..schema import" resolves.
    name = f"needlegen.catalog.{stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def catalog_files(catalog_dir):
    return sorted(os.path.join(catalog_dir, f) for f in os.listdir(catalog_dir)
                  if f.endswith(".py") and not f.startswith("_"))


def _where(module, tool=None, template=None):
    text = f"catalog/{module}.py"
    if tool is not None:
        text += f": tool {tool!r}"
    if template is not None:
        text += f": template {template!r}"
    return text


def _check_template(template, params_by_name, required, module, tool_name, label):
    problems = []
    where = _where(module, tool_name, template)
    if not isinstance(template, str) or not template.strip():
        return [f"{_where(module, tool_name)}: {label} template {template!r} is not a non-empty string"]
    slots = SLOT_RE.findall(template)
    if "{" in SLOT_RE.sub("", template) or "}" in SLOT_RE.sub("", template):
        problems.append(f"{where}: unbalanced brace")
    for slot in slots:
        if slot not in params_by_name:
            problems.append(f"{where}: slot {{{slot}}} names no parameter "
                            f"(parameters: {', '.join(params_by_name) or 'none'})")
    repeated = sorted({s for s in slots if slots.count(s) > 1})
    if repeated:
        problems.append(f"{where}: slot {{{repeated[0]}}} appears more than once")
    missing = [p for p in required if p not in slots]
    if missing:
        problems.append(f"{where}: required parameter(s) {', '.join(missing)} not in the template, "
                        f"so the call could not be filled in")
    return problems


def _check_param(param, module, tool_name, pools, kind_cache):
    """(kind or None, problems)."""
    where = f"{_where(module, tool_name)}: parameter {getattr(param, 'name', param)!r}"
    if not isinstance(param, Param):
        return None, [f"{where}: not a schema.Param"]
    problems = []
    if not isinstance(param.name, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", param.name):
        problems.append(f"{where}: name must be an identifier")
    if param.type not in PARAM_TYPES:
        problems.append(f"{where}: type {param.type!r} is not one of {', '.join(PARAM_TYPES)}")
    if not isinstance(param.description, str) or not param.description.strip():
        problems.append(f"{where}: empty description")
    # One Kind object per value space, so that held-out decisions are shared by every parameter using
    # it; enum and bool kinds depend on the parameter itself.
    cache_key = None if param.kind in ("enum", "bool") else param.kind
    if param.kind.startswith("text:"):
        cache_key = (module, param.kind)
    try:
        kind = kind_cache.get(cache_key) if cache_key is not None else None
        if kind is None:
            kind = K.make_kind(param, pools)
            if cache_key is not None:
                kind_cache[cache_key] = kind
    except K.KindError as error:
        return None, problems + [f"{where}: {error}"]
    if param.kind == "enum":
        bad = [v for v in param.enum if not K.value_matches_type(v, param.type) or param.type == "boolean"]
        if bad:
            problems.append(f"{where}: enum value {bad[0]!r} is not of type {param.type}")
        if len(set(param.enum)) != len(param.enum):
            problems.append(f"{where}: repeated enum value")
        unknown = [k for k in param.surfaces if k not in param.enum and k not in map(str, param.enum)]
        if unknown:
            problems.append(f"{where}: surfaces for {unknown[0]!r}, which is not an enum value")
    elif kind.json_type != param.type:
        problems.append(f"{where}: kind {param.kind!r} gives {kind.json_type} values but type is {param.type!r}")
    return kind, problems


def _param_json(param):
    entry = {"type": param.type, "description": param.description, "required": bool(param.required)}
    if param.kind == "enum":
        entry["enum"] = list(param.enum)
    return entry


def _check_module(stem, module, kind_cache):
    """(Category or None, problems) for one imported module."""
    problems = []
    where = _where(stem)
    for attr in ("CATEGORY", "TITLE", "POOLS", "TOOLS"):
        if not hasattr(module, attr):
            problems.append(f"{where}: missing {attr}")
    if problems:
        return None, problems
    if module.CATEGORY != stem:
        problems.append(f"{where}: CATEGORY is {module.CATEGORY!r}, expected the module name {stem!r}")
    if not isinstance(module.TITLE, str) or not module.TITLE.strip():
        problems.append(f"{where}: TITLE must be a non-empty string")
    pools = module.POOLS
    if not isinstance(pools, dict):
        return None, problems + [f"{where}: POOLS must be a dict of name -> tuple of phrases"]
    upstream = stem in UPSTREAM_CATEGORIES
    minimum = MIN_TOOLS_UPSTREAM if upstream else MIN_TOOLS_EVERYDAY
    tools = list(module.TOOLS) if isinstance(module.TOOLS, (tuple, list)) else []
    if len(tools) < minimum:
        problems.append(f"{where}: {len(tools)} tools, needs at least {minimum}")
    plans, seen = [], set()
    for tool in tools:
        if not isinstance(tool, Tool):
            problems.append(f"{where}: TOOLS holds {type(tool).__name__}, not schema.Tool")
            continue
        twhere = _where(stem, tool.name)
        if not isinstance(tool.name, str) or not NAME_RE.match(tool.name):
            problems.append(f"{twhere}: name must be snake_case")
        if tool.name in seen:
            problems.append(f"{twhere}: defined twice in the module")
        seen.add(tool.name)
        if not isinstance(tool.description, str) or not tool.description.strip():
            problems.append(f"{twhere}: empty description")
        tool_kinds, params_by_name = {}, {}
        for param in tool.params:
            kind, param_problems = _check_param(param, stem, tool.name, pools, kind_cache)
            problems += param_problems
            if isinstance(param, Param):
                if param.name in params_by_name:
                    problems.append(f"{twhere}: parameter {param.name!r} defined twice")
                params_by_name[param.name] = param
                if kind is not None:
                    tool_kinds[param.name] = kind
        required = [p.name for p in params_by_name.values() if p.required]
        templates = list(tool.templates) if isinstance(tool.templates, (tuple, list)) else []
        indirect = list(tool.indirect) if isinstance(tool.indirect, (tuple, list)) else []
        if len(set(templates)) < MIN_DIRECT_TEMPLATES:
            problems.append(f"{twhere}: {len(set(templates))} distinct direct templates, needs at least "
                            f"{MIN_DIRECT_TEMPLATES}")
        for label, group in (("direct", templates), ("indirect", indirect)):
            for template in group:
                problems += _check_template(template, params_by_name, required, stem, tool.name, label)
        if not isinstance(tool.near_miss, (tuple, list)) or not all(isinstance(n, str) for n in tool.near_miss):
            problems.append(f"{twhere}: near_miss must be a tuple of tool names")
        plan = ToolPlan(tool=tool, category=stem, module=stem, kinds=tool_kinds)
        plan.param_json = {p.name: _param_json(p) for p in params_by_name.values()}
        plans.append(plan)
    if problems:
        return None, problems
    return Category(name=stem, title=module.TITLE, module=stem, upstream=upstream, tools=plans), []


def load_catalog(catalog_dir=None, skip_invalid=False, log=None):
    """(categories, skipped): every valid module of the catalog, sorted by name.

    Raises CatalogError listing every problem found unless skip_invalid, in
    which case broken modules are left out and reported in `skipped`.
    """
    catalog_dir = catalog_dir or default_catalog_dir()
    log = log or (lambda message: print(message, file=sys.stderr))
    categories, skipped, problems = [], {}, []
    kind_cache = {}
    for path in catalog_files(catalog_dir):
        stem = os.path.splitext(os.path.basename(path))[0]
        try:
            module = _import_module(path)
        except Exception as error:  # a module being written may fail in any way; say which one
            module_problems = [f"{_where(stem)}: cannot be imported: {type(error).__name__}: {error}"]
        else:
            category, module_problems = _check_module(stem, module, kind_cache)
        if module_problems:
            skipped[stem] = module_problems
            problems += module_problems
        else:
            categories.append(category)
    # Cross-module checks.
    owner = {}
    for category in categories:
        for plan in category.tools:
            if plan.name in owner:
                problems.append(f"{_where(category.module, plan.name)}: tool name already used in "
                                f"catalog/{owner[plan.name]}.py")
                skipped.setdefault(category.module, []).append(problems[-1])
            else:
                owner[plan.name] = category.module
    if skipped and not skip_invalid:
        raise CatalogError("invalid catalog:\n  " + "\n  ".join(problems))
    categories = [c for c in categories if c.module not in skipped]
    if not categories:
        raise CatalogError(f"no usable catalog module in {catalog_dir}" +
                           ("" if not problems else ":\n  " + "\n  ".join(problems)))
    by_name = {plan.name: plan for category in categories for plan in category.tools}
    unresolved = []
    for category in categories:
        for plan in category.tools:
            for name in plan.tool.near_miss:
                if name == plan.name:
                    unresolved.append(f"{_where(category.module, plan.name)}: near_miss names the tool itself")
                elif name not in by_name:
                    unresolved.append(f"{_where(category.module, plan.name)}: near_miss {name!r} is no known tool")
                else:
                    plan.near_miss.append(by_name[name])
    if unresolved and not skip_invalid:
        raise CatalogError("invalid catalog:\n  " + "\n  ".join(unresolved))
    for message in unresolved:
        log(f"warning: {message} (ignored)")
    for module, module_problems in sorted(skipped.items()):
        log(f"warning: skipping catalog/{module}.py:\n  " + "\n  ".join(module_problems))
    return categories, skipped


# --------------------------------------------------------------------------- held-out planning


def words(text):
    return tuple(WORD_RE.findall(text.lower()))


class TextGuard:
    """Finds held-out text values inside other text, by whole words."""

    def __init__(self, phrases):
        self.by_length = {}
        for phrase in phrases:
            tokens = words(phrase)
            if tokens:
                self.by_length.setdefault(len(tokens), set()).add(tokens)

    def find(self, text):
        tokens = words(text)
        for length in sorted(self.by_length):
            wanted = self.by_length[length]
            for i in range(len(tokens) - length + 1):
                if tokens[i:i + length] in wanted:
                    return " ".join(tokens[i:i + length])
        return None


@dataclass
class Phrases:
    """Framing phrases of one split."""

    wrappers: list
    verb_wrappers: list
    joiners: list
    fillers: list
    corrections: list
    restarts: list


class Plan:
    """The held-out decisions for a loaded catalog."""

    def __init__(self, categories):
        self.categories = categories
        self.tools = [plan for category in categories for plan in category.tools]
        self.by_name = {plan.name: plan for plan in self.tools}
        self.category_of = {c.name: c for c in categories}
        self._split_values()
        self.guard = TextGuard(self.held_out_text_values())
        self.vocabulary = sorted({w for kind in self.text_kinds() if kind.spec.startswith("text:")
                                  for v in kind.pool(False) for w in v.split()})
        # Phrase pools whose values are mostly capitalised ("Midnight Harbor") get capitalised inventions.
        self.titled = {id(kind) for kind in self.text_kinds() if kind.spec.startswith("text:")
                       and sum(v[:1].isupper() for v in kind.values) * 2 > len(kind.values)}
        self._split_templates()
        self.phrases = {}
        for held_out in (False, True):
            parts = [K.split_phrases(group) for group in (K.WRAPPERS, K.VERB_WRAPPERS, K.JOINERS, K.FILLERS,
                                                           K.CORRECTIONS, K.RESTARTS)]
            self.phrases[held_out] = Phrases(*[held if held_out else train for train, held in parts])

    def text_kinds(self):
        """Every distinct kind whose values are free text (sorted, each once)."""
        found = {}
        for plan in self.tools:
            for kind in plan.kinds.values():
                if self.is_text_kind(kind):
                    found[id(kind)] = kind
        return sorted(found.values(), key=lambda k: (k.spec, len(k.values), k.values[0]))

    def _fixed_wordings(self):
        """Word n-grams of every template and framing phrase, outside the slots."""
        texts = [t for plan in self.tools for t in plan.tool.templates + plan.tool.indirect]
        texts += list(K.WRAPPERS + K.VERB_WRAPPERS + K.JOINERS + K.FILLERS + K.CORRECTIONS + K.RESTARTS)
        grams = set()
        for text in texts:
            for piece in SLOT_RE.split(text)[::2]:
                tokens = words(piece)
                for i in range(len(tokens)):
                    for j in range(i + 1, len(tokens) + 1):
                        grams.add(tokens[i:j])
        return grams

    def _split_values(self):
        kinds = self.text_kinds()
        # A value that a template spells out cannot be kept from train: it stays a train value.
        fixed = self._fixed_wordings()
        for kind in kinds:
            kind.held_out = frozenset(v for v in kind.held_out if words(v) not in fixed)
        # A train value that contains a held-out one ("text Sam the address" and "Sam") joins it.
        changed = True
        while changed:
            changed = False
            guard = TextGuard([v for kind in kinds for v in kind.held_out])
            for kind in kinds:
                moved = [v for v in kind.values if v not in kind.held_out and guard.find(v)]
                if moved:
                    kind.held_out = frozenset(kind.held_out | set(moved))
                    changed = True
        for plan in self.tools:
            for name, kind in sorted(plan.kinds.items()):
                if kind.values is not None and kind.held_out and not kind.pool(False):
                    raise CatalogError(f"{_where(plan.module, plan.name)}: parameter {name!r}: every value of "
                                       f"kind {kind.spec!r} ended up held out")

    def held_out_text_values(self):
        return sorted({v for kind in self.text_kinds() for v in kind.held_out})

    @staticmethod
    def is_text_kind(kind):
        return kind.spec in K.TEXT_KINDS or kind.spec.startswith("text:")

    def synthetic_value(self, kind, rng):
        """An invented value of a text kind that contains no held-out value (train only)."""
        while True:
            value = K.synthetic_value(kind.spec, rng, self.vocabulary)
            if id(kind) in self.titled:
                value = " ".join(w[:1].upper() + w[1:] for w in value.split())
            if not self.guard.find(value):
                return value

    def _split_templates(self):
        held_texts = set()
        for plan in self.tools:
            train, held = K.split_by_hash(sorted(set(plan.tool.templates)), K.text_key)
            plan.train_templates, plan.test_templates = train, held
            indirect = sorted(set(plan.tool.indirect))
            plan.train_indirect, plan.test_indirect = K.split_by_hash(indirect, K.text_key) \
                if len(indirect) >= 2 else (indirect, [])
            held_texts |= {K.text_key(t) for t in held + plan.test_indirect}
        for plan in self.tools:
            for train_attr, test_attr in (("train_templates", "test_templates"),
                                          ("train_indirect", "test_indirect")):
                train, test = getattr(plan, train_attr), getattr(plan, test_attr)
                # A wording held out for one tool is held out for all.
                moved = [t for t in train if K.text_key(t) in held_texts]
                setattr(plan, train_attr, [t for t in train if t not in moved])
                setattr(plan, test_attr, sorted(set(test) | set(moved)))
            if not plan.train_templates:
                raise CatalogError(f"{_where(plan.module, plan.name)}: no direct template is left for train "
                                   f"(each wording is held out for some tool)")

    def held_out_templates(self):
        """tool name -> {"train": [...], "test": [...]} for direct and indirect templates together."""
        return {plan.name: {"train": sorted(plan.train_templates + plan.train_indirect),
                            "test": sorted(plan.test_templates + plan.test_indirect)}
                for plan in sorted(self.tools, key=lambda p: p.name)}

    def held_out_values(self):
        """(tool, param) -> kind, for checking answers: kind.is_held_out(value)."""
        return {(plan.name, name): kind for plan in self.tools for name, kind in plan.kinds.items()}


# --------------------------------------------------------------------------- examples


_NAME_WORDS = {}


def name_words(name):
    if name not in _NAME_WORDS:
        _NAME_WORDS[name] = frozenset(name.split("_")) - GENERIC_NAME_WORDS
    return _NAME_WORDS[name]


def related(a, b):
    """Tools one of which might answer the other's request."""
    return (a is b or b in a.near_miss or a in b.near_miss or a.category == b.category
            or bool(name_words(a.name) & name_words(b.name)))


class Builder:
    def __init__(self, plan, held_out, synthetic_values=0.0):
        self.plan = plan
        self.held_out = held_out
        self.phrases = plan.phrases[held_out]
        # Share of text values replaced by invented ones (see kinds.synthetic_value).
        self.synthetic_values = synthetic_values

    def draw(self, kind, rng):
        if self.synthetic_values and self.plan.is_text_kind(kind) and rng.random() < self.synthetic_values:
            return self.plan.synthetic_value(kind, rng)
        return kind.draw(rng, self.held_out and kind.has_held_out)

    # -- text

    def fill(self, plan, template, rng, correct=False, fillers=False):
        """(query, arguments); with `correct`, one slot is said wrong first and then corrected."""
        slots = SLOT_RE.findall(template)
        corrected = None
        if correct:
            candidates = [s for s in slots if len(plan.kinds[s].pool(self.held_out) or []) >= 2
                          or plan.kinds[s].values is None]
            corrected = rng.choice(candidates) if candidates else None
        if fillers:
            template = self.add_filler(template, rng)
        arguments = {}

        def say(match):
            name = match.group(1)
            kind = plan.kinds[name]
            value = self.draw(kind, rng)
            arguments[name] = value
            spoken = rng.choice(kind.spoken(value))
            if name != corrected:
                return spoken
            wrong = value
            for _ in range(20):
                wrong = self.draw(kind, rng)
                if wrong != value:
                    break
            pattern = rng.choice(self.phrases.corrections)
            return pattern.format(wrong=rng.choice(kind.spoken(wrong)), right=spoken)

        return SLOT_RE.sub(say, template), arguments

    def add_filler(self, template, rng):
        # Placed between template words, so never inside a slot's value.
        words_ = template.split(" ")
        position = rng.randrange(len(words_))
        filler = rng.choice(self.phrases.fillers)
        if position == 0:
            return f"{filler}, {template}"
        head, tail = " ".join(words_[:position]), " ".join(words_[position:])
        return f"{head}, {filler}, {tail}"

    def restart(self, query, rng):
        words_ = query.split(" ")
        if len(words_) < 4:
            return query
        head = " ".join(words_[:rng.randint(1, 2)])
        return rng.choice(self.phrases.restarts).format(head=head, full=query)

    def wrap(self, query, rng):
        if rng.random() < 0.5:
            return query
        choices = list(self.phrases.wrappers)
        first = query.split(" ", 1)[0].lower()
        if first in K.IMPERATIVE_VERBS:
            choices += self.phrases.verb_wrappers
        return rng.choice(choices).format(q=query)

    @staticmethod
    def finish(query, rng):
        query = " ".join(query.split())
        if rng.random() < 0.35:
            query = query[:1].upper() + query[1:]
        if rng.random() < 0.15 and query[-1:].isalnum():
            query += "?" if query.split(" ", 1)[0].lower() in ("can", "could", "would", "what", "how", "is",
                                                               "are", "do", "does", "which") else "."
        return query

    # -- tools

    def pick_tool(self, rng, category, need_indirect=False):
        tools = self.plan.category_of[category].tools
        if need_indirect:
            tools = [t for t in tools if t.indirect(self.held_out)]
        return rng.choice(tools) if tools else None

    def tool_list(self, rng, present, exclude=()):
        """`present` plus distractors, shuffled, 1..10 in all."""
        total = rng.randint(max(1, len(present)), MAX_TOOLS_PER_EXAMPLE)
        chosen = list(present)
        names = {t.name for t in chosen}
        excluded = {t.name for t in exclude} | names
        categories = {p.category for p in present}
        same = [t for t in self.plan.tools if t.category in categories and t.name not in excluded]
        other = [t for t in self.plan.tools if t.category not in categories and t.name not in excluded]
        while len(chosen) < total and (same or other):
            pool = same if same and (rng.random() < 0.25 or not other) else other
            tool = pool.pop(rng.randrange(len(pool)))
            chosen.append(tool)
        rng.shuffle(chosen)
        return chosen

    @staticmethod
    def render(rng, tools, calls):
        """Tools in upstream format with shuffled parameter order; calls' arguments in that order."""
        orders, rendered = {}, []
        for plan in tools:
            names = list(plan.param_json)
            rng.shuffle(names)
            orders[plan.name] = names
            rendered.append({"name": plan.name, "description": plan.tool.description,
                             "parameters": {n: plan.param_json[n] for n in names}})
        answers = [{"name": plan.name, "arguments": {n: arguments[n] for n in orders[plan.name] if n in arguments}}
                   for plan, arguments in calls]
        return rendered, answers

    # -- call types

    def direct(self, rng, plan, **options):
        template = rng.choice(plan.templates(self.held_out))
        query, arguments = self.fill(plan, template, rng, **options)
        return query, arguments, template

    def example(self, rng, category, call_type):
        """(call_type, query, tools, calls, templates) or None when the type cannot be built here."""
        if call_type == "indirect":
            plan = self.pick_tool(rng, category, need_indirect=True)
            if plan is None:
                return None
            template = rng.choice(plan.indirect(self.held_out))
            query, arguments = self.fill(plan, template, rng)
            return call_type, self.wrap(query, rng), self.tool_list(rng, [plan]), [(plan, arguments)], [template]
        plan = self.pick_tool(rng, category)
        if call_type == "disfluent":
            query, arguments, template = self.direct(rng, plan, correct=True, fillers=rng.random() < 0.5)
            if not SLOT_RE.search(template) or rng.random() < 0.25:
                restarted = self.restart(query, rng)
                query = restarted if restarted != query else f"{rng.choice(self.phrases.fillers)}, {query}"
            return call_type, self.wrap(query, rng), self.tool_list(rng, [plan]), [(plan, arguments)], [template]
        query, arguments, template = self.direct(rng, plan)
        if call_type == "single":
            return call_type, self.wrap(query, rng), self.tool_list(rng, [plan]), [(plan, arguments)], [template]
        if call_type == "multi":
            if rng.random() < 0.5:
                partners = [t for t in self.plan.category_of[category].tools if t is not plan]
            else:
                partners = [t for t in self.plan.tools if t.category != category]
            partners = [t for t in partners if t.name not in {n.name for n in plan.near_miss}] or \
                [t for t in self.plan.tools if t is not plan]
            second = rng.choice(partners)
            query2, arguments2, template2 = self.direct(rng, second)
            joined = rng.choice(self.phrases.joiners).format(a=query, b=query2)
            return (call_type, self.wrap(joined, rng), self.tool_list(rng, [plan, second]),
                    [(plan, arguments), (second, arguments2)], [template, template2])
        if call_type == "none":
            exclude = [t for t in self.plan.tools if related(plan, t)]
            tools = self.tool_list(rng, [], exclude=exclude)
            return call_type, self.wrap(query, rng), tools, [], [template]
        if call_type == "near_miss":
            siblings = [t for t in self.plan.category_of[category].tools if t is not plan]
            similar = plan.near_miss if plan.near_miss and rng.random() < 0.7 else siblings
            similar = similar or siblings
            if not similar:
                return None
            decoy = rng.choice(similar)
            exclude = [t for t in self.plan.tools if related(plan, t)]
            tools = self.tool_list(rng, [decoy], exclude=exclude)
            return call_type, self.wrap(query, rng), tools, [], [template]
        if call_type == "no_tools":
            return call_type, self.wrap(query, rng), [], [], [template]
        raise ValueError(f"unknown call type {call_type!r}")


def example_rng(seed, split, index, attempt=0):
    return random.Random(K.stable_hash(f"{DATASET_NAME}|{seed}|{split}|{index}|{attempt}"))


def build_record(builder, seed, split, index, category, call_type, trace=False):
    """One record; train queries that would leak a held-out text value are drawn again."""
    for attempt in range(50):
        rng = example_rng(seed, split, index, attempt)
        built = builder.example(rng, category, call_type)
        if built is None:  # the category has no tool for this call type in this split
            built = builder.example(rng, category, "single")
        actual_type, query, tools, calls, templates = built
        query = builder.finish(query, rng)
        if builder.held_out or not builder.plan.guard.find(query):
            break
    else:
        raise CatalogError(f"cannot build a {split} {call_type} example for {category} without a held-out value")
    rendered, answers = builder.render(rng, tools, calls)
    record = {"id": f"{DATASET_NAME}-{split}-{index:06d}", "category": category, "call_type": actual_type,
              "query": query, "tools": rendered, "answers": answers}
    if trace:
        record["_templates"] = templates
    return record


def largest_remainder(total, weights):
    """Integer counts proportional to weights, summing to total."""
    raw = [total * w / sum(weights) for w in weights]
    counts = [int(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - counts[i]), i))
    for i in order[:total - sum(counts)]:
        counts[i] += 1
    return counts


def split_jobs(plan, split, count, seed, test_per_category=None, test_per_everyday=None):
    """(category, call_type) per example index."""
    names = [c.name for c in plan.categories]
    if split == "test":
        jobs = []
        for category in plan.categories:
            total = test_per_category if category.upstream else test_per_everyday
            counts = largest_remainder(total, [w for _, w in CALL_TYPE_MIX])
            for (call_type, _), n in zip(CALL_TYPE_MIX, counts):
                jobs += [(category.name, call_type)] * n
        random.Random(K.stable_hash(f"{DATASET_NAME}|{seed}|test-order")).shuffle(jobs)
        return jobs
    rng = random.Random(K.stable_hash(f"{DATASET_NAME}|{seed}|{split}-jobs"))
    weights = [w for _, w in CALL_TYPE_MIX]
    return [(rng.choice(names), rng.choices(CALL_TYPES, weights)[0]) for _ in range(count)]


def generate_split(plan, split, seed=0, count=0, test_per_category=120, test_per_everyday=60, trace=False,
                   synthetic_values=0.0):
    """Records of one split; `synthetic_values` applies to train only (dev mirrors train's templates and
    pools, test holds real held-out values)."""
    builder = Builder(plan, held_out=(split == "test"), synthetic_values=synthetic_values if split == "train" else 0.0)
    jobs = split_jobs(plan, split, count, seed, test_per_category, test_per_everyday)
    return [build_record(builder, seed, split, i, category, call_type, trace)
            for i, (category, call_type) in enumerate(jobs)]


def dumps(record):
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def write_dataset(out_dir, seed=0, train=40000, dev=1000, test_per_category=120, test_per_everyday=60,
                  catalog_dir=None, skip_invalid=False, log=None, synthetic_values=DEFAULTS["synthetic_values"]):
    """Writes train/dev/test .jsonl and manifest.json; returns the manifest."""
    log = log or (lambda message: print(message, file=sys.stderr))
    categories, skipped = load_catalog(catalog_dir, skip_invalid=skip_invalid, log=log)
    plan = Plan(categories)
    os.makedirs(out_dir, exist_ok=True)
    sizes = {"train": train, "dev": dev, "test": 0}
    manifest = {
        "name": DATASET_NAME,
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "arguments": {"train": train, "dev": dev, "test_per_category": test_per_category,
                      "test_per_everyday": test_per_everyday, "skip_invalid": skip_invalid,
                      "synthetic_values": synthetic_values},
        "categories": {c.name: {"title": c.title, "group": "upstream" if c.upstream else "everyday",
                                "tools": len(c.tools)} for c in categories},
        "missing_categories": sorted(set(UPSTREAM_CATEGORIES + EVERYDAY_CATEGORIES) - {c.name for c in categories}),
        "skipped_modules": sorted(skipped),
        "call_type_mix_percent": dict(CALL_TYPE_MIX),
        "files": {},
        "counts": {},
    }
    for split in ("train", "dev", "test"):
        records = generate_split(plan, split, seed, sizes[split], test_per_category, test_per_everyday,
                                 synthetic_values=synthetic_values)
        data = "".join(dumps(r) + "\n" for r in records).encode("utf-8")
        name = f"{split}.jsonl"
        with open(os.path.join(out_dir, name), "wb") as handle:
            handle.write(data)
        counts = {}
        for record in records:
            per_category = counts.setdefault(record["category"], {})
            per_category[record["call_type"]] = per_category.get(record["call_type"], 0) + 1
        manifest["counts"][split] = {c: {t: counts[c][t] for t in CALL_TYPES if t in counts[c]}
                                     for c in sorted(counts)}
        manifest["files"][name] = {"records": len(records), "sha256": hashlib.sha256(data).hexdigest()}
        log(f"{name}: {len(records)} records")
    with open(os.path.join(out_dir, "manifest.json"), "w", encoding="utf-8") as handle:
        handle.write(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
    return manifest


# --------------------------------------------------------------------------- dataset card tables

TABLES_BEGIN = "<!-- tables:begin (written by datasets/generate.py --readme) -->"
TABLES_END = "<!-- tables:end -->"


def card_tables(manifest):
    lines = [f"Generated by generator version {manifest['generator_version']} with seed {manifest['seed']}.", ""]
    lines += ["| category | group | title | tools | train | dev | test |", "|---|---|---|---:|---:|---:|---:|"]
    totals = {s: 0 for s in ("train", "dev", "test")}
    for name, info in manifest["categories"].items():
        row = [sum(manifest["counts"][s].get(name, {}).values()) for s in ("train", "dev", "test")]
        for s, n in zip(("train", "dev", "test"), row):
            totals[s] += n
        lines.append(f"| {name} | {info['group']} | {info['title']} | {info['tools']} | "
                     + " | ".join(str(n) for n in row) + " |")
    lines.append(f"| **all** | | | {sum(i['tools'] for i in manifest['categories'].values())} | "
                 + " | ".join(str(totals[s]) for s in ("train", "dev", "test")) + " |")
    lines += ["", "| call type | train | dev | test |", "|---|---:|---:|---:|"]
    for call_type in CALL_TYPES:
        row = [sum(c.get(call_type, 0) for c in manifest["counts"][s].values()) for s in ("train", "dev", "test")]
        lines.append(f"| {call_type} | " + " | ".join(str(n) for n in row) + " |")
    if manifest["missing_categories"]:
        lines += ["", "Categories without a usable module in this build: "
                  + ", ".join(manifest["missing_categories"]) + "."]
    lines += ["", "| file | records | sha256 |", "|---|---:|---|"]
    for name, info in manifest["files"].items():
        lines.append(f"| {name} | {info['records']} | `{info['sha256']}` |")
    return "\n".join(lines)


def update_readme(path, manifest):
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    if TABLES_BEGIN not in text or TABLES_END not in text:
        raise ValueError(f"{path} has no {TABLES_BEGIN} ... {TABLES_END} section")
    head, rest = text.split(TABLES_BEGIN, 1)
    _, tail = rest.split(TABLES_END, 1)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(head + TABLES_BEGIN + "\n" + card_tables(manifest) + "\n" + TABLES_END + tail)

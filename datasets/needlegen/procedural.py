"""Procedurally generated training records: invented tools, compositional requests.

needle15's train split has 204 tools and a few templates each, so a model can learn which tool
goes with which wording without ever reading the tool list. Here every record gets tools built
on the spot from word pools (verb x object x domain, parameters from archetypes, enums drawn
from value pools), so there are tens of thousands of distinct tools and the only way to pick
the right one is to match the request against the list. Requests are composed from a grammar
(verb synonyms, argument order, fronted arguments, politeness frames, fillers, indirect needs,
corrections, false starts), and argument values are invented, sometimes inside a longer span
("my colleague Brelmo Tavik"), so that they have to be copied.

The records use needle15's schema with category "procedural", and serve training only. Nothing
of needle15's test side reaches them (see HeldOutGuard): the catalog's held-out framing phrases
are removed from the grammar, held-out text values and test templates are checked against every
query, numbers come from the train side of the catalog's own kinds, and no catalog tool name is
produced. Determinism: each record has its own random.Random seeded from (seed, index, attempt).
"""

import re
from dataclasses import dataclass

from . import generate as G
from . import kinds as K
from .schema import Param

CATEGORY = "procedural"
ID_PREFIX = "procedural"
MAX_TOOLS = G.MAX_TOOLS_PER_EXAMPLE

# --------------------------------------------------------------------------- word pools

# Object classes: which verbs make sense with which objects.
DOC, ITEM, DEVICE, EVENT, ACCOUNT, SPACE = "doc", "item", "device", "event", "account", "space"

OBJECTS = {
    DOC: ("report", "invoice", "memo", "checklist", "playlist", "logbook", "manifest", "roster", "floor plan",
          "price sheet", "handbook", "summary", "ledger", "catalog page", "newsletter", "transcript",
          "work order", "packing slip", "menu card", "shot list", "lesson plan", "field note", "blueprint",
          "timesheet", "press release", "survey", "waiver", "contract", "receipt", "certificate"),
    ITEM: ("sample", "package", "crate", "spare part", "pallet", "specimen", "batch", "kit", "bundle",
           "parcel", "voucher", "coupon", "sticker", "badge", "canister", "cartridge", "tray", "barrel",
           "seed packet", "fabric roll", "bottle", "gift card", "key card", "filter", "uniform", "banner"),
    DEVICE: ("sensor", "pump", "camera", "printer", "projector", "heater", "valve", "scanner", "kiosk",
             "beacon", "turntable", "fan", "dehumidifier", "compressor", "conveyor", "drone dock",
             "label printer", "water meter", "air purifier", "loudspeaker", "incubator", "kiln", "winch",
             "generator", "freezer", "feeder", "sprinkler", "gate opener", "signboard", "telescope"),
    EVENT: ("booking", "appointment", "session", "shift", "rehearsal", "inspection", "tasting", "workshop",
            "tour", "fitting", "consultation", "audit", "pickup", "delivery slot", "screening", "lesson",
            "demo", "interview", "tryout", "maintenance window", "class", "retreat", "standup", "visit"),
    ACCOUNT: ("subscription", "membership", "profile", "ticket", "license", "pass", "loyalty card",
              "allowance", "quota", "tab", "wallet", "locker rental", "season pass", "warranty", "permit",
              "voucher balance", "credit line", "plan", "login", "api key"),
    SPACE: ("locker", "room", "zone", "desk", "bay", "stall", "bed", "shelf", "greenhouse", "cabin",
            "court", "studio booth", "dock", "plot", "lane", "cubicle", "pen", "garage spot", "storage unit",
            "meeting pod", "booth", "terrace", "rack", "vault"),
}

# (name word, participle, words a request may use for it, description verb, object classes).
# Each name word means something different from every other, so that two tools whose names differ
# only in the verb cannot both do a job; the request words of one verb are never another's name word.
VERBS = (
    ("create", "created", ("create", "make", "set up", "add"), "Creates", (DOC, EVENT, ACCOUNT, ITEM)),
    ("delete", "deleted", ("delete", "remove", "get rid of", "erase"), "Deletes", (DOC, EVENT, ACCOUNT, ITEM)),
    ("archive", "archived", ("archive", "file away", "shelve"), "Archives", (DOC, ITEM, ACCOUNT)),
    ("share", "shared", ("share", "pass along", "forward"), "Shares", (DOC, ITEM, ACCOUNT)),
    ("print", "printed", ("print", "print out", "run off"), "Prints", (DOC,)),
    ("export", "exported", ("export", "download a copy of", "save out"), "Exports", (DOC,)),
    ("translate", "translated", ("translate", "render in another language"), "Translates", (DOC,)),
    ("approve", "approved", ("approve", "sign off on", "okay"), "Approves", (DOC, EVENT, ACCOUNT)),
    ("reject", "rejected", ("reject", "turn down", "decline"), "Rejects", (DOC, EVENT, ACCOUNT)),
    ("rename", "renamed", ("rename", "give a new name to", "retitle"), "Renames", (DOC, ITEM, SPACE, DEVICE)),
    ("ship", "shipped", ("ship", "send out", "dispatch"), "Ships", (ITEM,)),
    ("order", "ordered", ("order", "buy", "purchase", "get me"), "Orders", (ITEM,)),
    ("return", "returned", ("return", "send back", "give back"), "Returns", (ITEM,)),
    ("inspect", "inspected", ("inspect", "look over", "examine"), "Inspects", (ITEM, DEVICE, SPACE)),
    ("count", "counted", ("count", "tally", "take stock of"), "Counts", (ITEM,)),
    ("label", "labelled", ("label", "tag", "mark"), "Labels", (ITEM, SPACE)),
    ("restart", "restarted", ("restart", "reboot", "power cycle"), "Restarts", (DEVICE,)),
    ("calibrate", "calibrated", ("calibrate", "recalibrate", "tune"), "Calibrates", (DEVICE,)),
    ("activate", "activated", ("activate", "turn on", "switch on", "start up"), "Activates", (DEVICE, ACCOUNT)),
    ("deactivate", "deactivated", ("deactivate", "turn off", "switch off", "shut down"), "Deactivates",
     (DEVICE, ACCOUNT)),
    ("configure", "configured", ("configure", "adjust", "change the settings of"), "Configures", (DEVICE,)),
    ("monitor", "monitored", ("monitor", "watch", "keep an eye on"), "Monitors", (DEVICE, SPACE, ACCOUNT)),
    ("schedule", "scheduled", ("schedule", "pencil in", "put on the calendar"), "Schedules", (EVENT,)),
    ("reschedule", "rescheduled", ("reschedule", "move", "push back"), "Reschedules", (EVENT,)),
    ("cancel", "cancelled", ("cancel", "call off", "scrap"), "Cancels", (EVENT, ACCOUNT)),
    ("confirm", "confirmed", ("confirm", "lock in", "verify"), "Confirms", (EVENT,)),
    ("join", "joined", ("join", "sign up for", "enroll in"), "Joins", (EVENT,)),
    ("renew", "renewed", ("renew", "extend", "prolong"), "Renews", (ACCOUNT,)),
    ("upgrade", "upgraded", ("upgrade", "bump up", "move up a tier on"), "Upgrades", (ACCOUNT,)),
    ("suspend", "suspended", ("suspend", "freeze", "put on hold"), "Suspends", (ACCOUNT,)),
    ("transfer", "transferred", ("transfer", "hand over", "move over"), "Transfers", (ACCOUNT, ITEM)),
    ("reserve", "reserved", ("reserve", "book", "hold"), "Reserves", (SPACE,)),
    ("release", "released", ("release", "free up", "let go of"), "Releases", (SPACE, ACCOUNT)),
    ("clean", "cleaned", ("clean", "tidy", "scrub"), "Cleans", (SPACE, DEVICE)),
    ("lock", "locked", ("lock", "secure", "bolt"), "Locks", (SPACE, DEVICE)),
    ("unlock", "unlocked", ("unlock", "open up"), "Unlocks", (SPACE, DEVICE)),
    ("assign", "assigned", ("assign", "allocate", "give out"), "Assigns", (SPACE, ITEM, EVENT)),
    ("review", "reviewed", ("review", "go through", "read over"), "Reviews", (DOC, EVENT)),
    ("summarize", "summarized", ("summarize", "sum up", "give me the gist of"), "Summarizes", (DOC,)),
    ("locate", "located", ("locate", "find", "track down"), "Locates", (ITEM, DEVICE)),
)

# Where a tool's object lives: the third word of a three-part name ("reserve_harbor_bay").
DOMAINS = (
    "lab", "fleet", "studio", "warehouse", "clinic", "library", "bakery", "office", "farm", "school",
    "hotel", "workshop", "theater", "marina", "kennel", "brewery", "salon", "vineyard", "newsroom",
    "observatory", "museum", "harbor", "campus", "factory", "pharmacy", "gallery", "depot", "orchard",
    "hangar", "festival", "stable", "quarry", "ranch", "arena", "chapel", "cafeteria", "dormitory",
    "boutique", "printshop", "aquarium", "apiary", "bistro", "cinema", "co-op", "dojo", "embassy",
    "foundry", "greenhouse", "hostel", "island", "jetty", "lodge", "mill", "nursery", "outpost",
    "pavilion", "refinery", "sawmill", "tannery", "zoo",
)

DETERMINERS = ("the", "the", "my", "our", "this", "that")

# Marks an argument value's place in a request being composed ("\x01" + index + "\x01").
SLOT_MARK = "\x01"
MARKER_RE = re.compile(SLOT_MARK + r"(\d+)" + SLOT_MARK)

# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Archetype:
    """A kind of parameter: its possible names, description, value kind and how a request says it.

    `kind` is a needlegen kind spec (train-side values of the catalog's own kinds) or one of
    "invented:<spec>" (made-up text, see kinds.synthetic_value), "enum:<pool>", "bool:<pool>" and
    "array:<spec>" (one to three invented values). `phrases` hold "{v}" for the spoken value.
    """

    names: tuple
    type: str
    description: str
    kind: str
    phrases: tuple


ARCHETYPES = (
    Archetype(("title", "name", "{obj}_name"), "string", "Title of the {obj}.", "invented:phrase",
              ("called {v}", "named {v}", "titled {v}", "with the title {v}")),
    Archetype(("recipient", "contact", "for_person"), "string", "Person the {obj} is for.", "invented:person",
              ("for {v}", "on behalf of {v}", "addressed to {v}")),
    Archetype(("owner", "assignee", "responsible"), "string", "Person in charge of the {obj}.",
              "invented:person", ("assigned to {v}", "owned by {v}", "and put {v} in charge")),
    Archetype(("location", "address", "site"), "string", "Where the {obj} is.", "invented:place",
              ("at {v}", "over at {v}", "located at {v}")),
    Archetype(("city", "town"), "string", "City of the {obj}.", "invented:city", ("in {v}", "in the city of {v}")),
    Archetype(("email", "notify_email", "contact_email"), "string", "Email address for updates on the {obj}.",
              "invented:email", ("and email {v}", "with updates to {v}", "cc {v}")),
    Archetype(("phone", "callback_number"), "string", "Phone number to reach about the {obj}.",
              "invented:phone", ("call-back number {v}", "and text {v} when done", "reachable at {v}")),
    Archetype(("note", "comment", "memo_text"), "string", "Free-text note stored with the {obj}.",
              "invented:phrase", ("with the note {v}", "noting {v}", "and add a comment saying {v}")),
    Archetype(("time", "start_time", "at_time"), "string", "Time, 24-hour HH:MM.", "time",
              ("at {v}", "starting {v}", "for {v}")),
    Archetype(("date", "due_date", "on_date"), "string", "Date, YYYY-MM-DD.", "date",
              ("on {v}", "due {v}", "for {v}")),
    Archetype(("day", "weekday"), "string", "Day: a weekday, 'today' or 'tomorrow'.", "day", ("{v}", "on {v}")),
    Archetype(("duration_minutes", "minutes", "length_min"), "integer", "How long, in minutes.", "duration_min",
              ("for {v}", "lasting {v}", "that runs {v}")),
    Archetype(("quantity", "count", "units"), "integer", "How many.", "int:2:40",
              ("quantity {v}", "{v} units", "a batch of {v}")),
    Archetype(("limit", "max_results", "top_n"), "integer", "At most this many results.", "int:5:50",
              ("limit {v}", "at most {v} of them", "just the top {v}")),
    Archetype(("days", "days_ahead", "window_days"), "integer", "Number of days.", "int:2:60",
              ("for the next {v} days", "{v} days out", "over {v} days")),
    Archetype(("level", "intensity", "setting"), "integer", "Level from 1 to 10.", "int:2:10",
              ("at level {v}", "set to {v}", "with intensity {v}")),
    Archetype(("amount", "budget", "price_limit"), "number", "Amount in dollars.", "money",
              ("for {v}", "worth {v}", "up to {v}")),
    Archetype(("percent", "share_percent"), "integer", "Percentage, 1 to 100.", "percent",
              ("to {v}", "at {v}")),
    Archetype(("weight_grams", "grams"), "integer", "Weight in grams.", "grams", ("weighing {v}", "of {v}")),
    Archetype(("volume_ml", "ml"), "integer", "Volume in milliliters.", "ml", ("with {v}", "holding {v}")),
    Archetype(("distance_km", "radius_km"), "number", "Distance in kilometers.", "number:0.5:120:0.5",
              ("within {v} km", "{v} kilometers away")),
    Archetype(("threshold", "factor"), "number", "A threshold value.", "number:0.5:60:0.1",
              ("with a threshold of {v}", "using {v}")),
    Archetype(("priority", "urgency"), "string", "Priority of the {obj}.", "enum:priority",
              ("{v} priority", "as {v} priority", "priority {v}")),
    Archetype(("format", "file_format"), "string", "Output format.", "enum:format", ("as {v}", "in {v} format")),
    Archetype(("size",), "string", "Size of the {obj}.", "enum:size", ("in size {v}", "{v} sized")),
    Archetype(("color", "colour"), "string", "Color of the {obj}.", "enum:color", ("in {v}", "colored {v}")),
    Archetype(("mode", "profile_mode"), "string", "Operating mode.", "enum:mode", ("in {v} mode", "mode {v}")),
    Archetype(("visibility", "access"), "string", "Who can see the {obj}.", "enum:visibility",
              ("as {v}", "visible to {v}")),
    Archetype(("frequency", "repeat"), "string", "How often it repeats.", "enum:frequency",
              ("{v}", "repeating {v}")),
    Archetype(("channel", "notify_via"), "string", "How to send notifications.", "enum:channel",
              ("via {v}", "by {v}")),
    Archetype(("notify", "send_notification"), "boolean", "Whether to notify the people involved.",
              "bool:notify", ()),
    Archetype(("urgent", "rush"), "boolean", "Whether it is urgent.", "bool:urgent", ()),
    Archetype(("include_archived", "with_archived"), "boolean", "Whether archived entries count too.",
              "bool:archived", ()),
    Archetype(("overwrite", "replace_existing"), "boolean", "Whether an existing one is replaced.",
              "bool:overwrite", ()),
    Archetype(("tags", "labels"), "array", "Tags to attach to the {obj}.", "array:phrase",
              ("tagged {v}", "with the tags {v}", "and label it {v}")),
    Archetype(("attendees", "people", "members"), "array", "People to include.", "array:person",
              ("with {v}", "including {v}", "and invite {v}")),
)

ENUM_POOLS = {
    # canonical value -> other ways to say it
    "priority": {"low": ("low",), "normal": ("normal", "regular"), "high": ("high",),
                 "urgent": ("urgent", "top")},
    "format": {"pdf": ("pdf", "PDF"), "csv": ("csv", "a spreadsheet"), "docx": ("docx", "a Word file"),
               "txt": ("txt", "plain text"), "json": ("json", "JSON"), "html": ("html", "a web page")},
    "size": {"small": ("small",), "medium": ("medium",), "large": ("large", "big"),
             "extra_large": ("extra large", "XL")},
    "color": {"red": ("red",), "green": ("green",), "blue": ("blue",), "yellow": ("yellow",),
              "purple": ("purple",), "orange": ("orange",), "black": ("black",), "white": ("white",)},
    "mode": {"eco": ("eco", "economy"), "turbo": ("turbo", "boost"), "standard": ("standard", "normal"),
             "night": ("night",), "silent": ("silent", "quiet")},
    "visibility": {"public": ("public", "everyone"), "private": ("private", "just me"),
                   "team": ("team", "the team")},
    "frequency": {"daily": ("daily", "every day"), "weekly": ("weekly", "every week"),
                  "monthly": ("monthly", "every month"), "hourly": ("hourly", "every hour")},
    "channel": {"email": ("email",), "sms": ("sms", "text message"), "push": ("push", "a push notification"),
                "voice": ("voice", "a phone call")},
}

BOOL_POOLS = {
    "notify": {"true": ("and let everyone know", "and notify the people involved", "with a notification"),
               "false": ("without notifying anyone", "and don't tell anyone", "silently")},
    "urgent": {"true": ("and it's urgent", "as a rush job", "asap"),
               "false": ("no rush", "whenever is convenient", "it's not urgent")},
    "archived": {"true": ("including archived ones", "archived ones too"),
                 "false": ("skipping archived ones", "leaving out archived ones")},
    "overwrite": {"true": ("replacing the existing one", "and overwrite the old one"),
                  "false": ("keeping the existing one", "without overwriting anything")},
}

# Words around a copied value that are not part of it ("my colleague {v}"): the model has to
# find where the value starts and ends.
SPAN_CONTEXT = {
    "person": ("my colleague {v}", "{v} from the front desk", "my friend {v}", "{v}, the new hire"),
    "place": ("{v}, the one by the river", "{v} near the old bridge", "the spot at {v}"),
    "city": ("{v}, up north", "{v} on the coast"),
    "phrase": ("\"{v}\"", "'{v}'", "{v} (all lower case)", "{v} like last time"),
}

# --------------------------------------------------------------------------- grammar

# Frames around one request; "{r}" is the request ("archive the lab report called ...").
IMPERATIVE_FRAMES = (
    "{r}", "{r}", "{r}", "please {r}", "could you {r}", "can you {r}", "would you mind if you {r}",
    "I want you to {r}", "I'd like you to {r}", "go ahead and {r}", "kindly {r}", "could you please {r}",
    "you should {r}", "time to {r}", "let's {r}", "I need to {r}", "help me {r}", "it's time to {r}",
    "would you be able to {r}", "do me a favor and {r}", "remember to {r}", "we need to {r}",
)
POLITE_OPENERS = ("hi, ", "hello, ", "hey, ", "good morning, ", "ok, ", "alright, ", "so, ", "listen, ",
                  "quick request: ", "one thing, ", "hey there, ", "right, ")
POLITE_CLOSERS = (", please", ", thanks", ", thank you", ", cheers", ", much appreciated", ", if possible",
                  " when you can", ", ta", " for me", ", thanks so much")
# Needs that imply the request without naming the action; "{o}" is the object phrase, "{p}" the
# participle, "{a}" the arguments.
INDIRECT_FRAMES = (
    "{o} {a} still hasn't been {p}", "it would really help if {o} {a} got {p}",
    "someone needs to make sure {o} {a} is {p}", "I was hoping to see {o} {a} {p} by now",
    "{o} {a} ought to be {p}, can that happen", "we can't go on until {o} {a} is {p}",
    "is there a way to get {o} {a} {p}", "the boss asked why {o} {a} isn't {p} yet",
    "my to-do list says {o} {a} should be {p}", "nothing moves until {o} {a} has been {p}",
)
MY_JOINERS = ("{a}, and {b}", "{a}, after that {b}", "{a}. Next, {b}", "{a} and then {b}",
              "{a}. Oh, and {b}", "{a}, followed by {b}", "{a}. Secondly, {b}", "{a}, plus could you {b}",
              "{a}. Once that's done, {b}")
MY_FILLERS = ("um", "er", "hmm", "like", "you know", "so", "erm", "ah", "let me think",
              "basically", "kind of", "I guess", "okay")
MY_CORRECTIONS = ("{wrong}, actually {right}", "{wrong}, my mistake, {right}", "{wrong}, make that {right}",
                  "{wrong}, correction: {right}", "{wrong}, err, {right}", "{wrong}, sorry, it's {right}")
MY_RESTARTS = ("{head}, hmm, {full}", "{head}, wait, {full}", "{head}... okay, {full}",
               "{head}, let me try again, {full}")


def phrase_key(phrase):
    """The fixed words of a framing phrase ("{wrong}, I mean {right}" -> "i mean")."""
    return " ".join(G.words(G.SLOT_RE.sub(" ", phrase)))


def _allowed(own, catalog_train, catalog_held):
    """The grammar's phrases: our own plus the catalog's train side, never a held-out one nor one
    that shares its wording with a held-out one (the filler "I mean" and the correction
    "{wrong}, I mean {right}")."""
    held = [phrase_key(h) for h in catalog_held]

    def clear(phrase):
        key = phrase_key(phrase)
        return not any(key == h or (len(h.split()) >= 2 and f" {h} " in f" {key} ")
                       or (len(key.split()) >= 2 and f" {key} " in f" {h} ") for h in held)

    return tuple(dict.fromkeys(p for p in own + tuple(catalog_train) if clear(p)))


class HeldOutGuard:
    """What of needle15's test side a procedural record must never contain.

    - held-out text values (names, places, phrases), found by whole words as the dataset does;
    - the wording of held-out framing phrases (wrappers, joiners, fillers, corrections, restarts)
      of two words or more ("hey assistant", "and while you're at it"), wherever it comes from;
    - held-out test templates: one whose fixed words (outside its slots) number 3 or more must not
      be found anywhere in a query, slots standing for any words; a shorter one ("dial {number}")
      must not match a whole query, since its two words alone occur in countless requests.
    """

    def __init__(self, plan):
        self.text = plan.guard
        held = plan.phrases[True]
        self.phrase_keys = sorted({phrase_key(p) for group in (held.wrappers, held.verb_wrappers, held.joiners,
                                                               held.fillers, held.corrections, held.restarts)
                                   for p in group if len(phrase_key(p).split()) >= 2})
        self.template_res = []
        for template in sorted({t for entry in plan.held_out_templates().values() for t in entry["test"]}):
            pieces = [" ".join(G.words(piece)) for piece in G.SLOT_RE.split(template)]
            fixed = pieces[::2]
            parts = []
            for i, piece in enumerate(pieces):
                if i % 2:
                    parts.append(r"\S+(?: \S+)*")  # a slot: one or more words
                elif piece:
                    parts.append(re.escape(piece))
            body = " ?".join(parts).replace(r"\S+(?: \S+)* ?\S+(?: \S+)*", r"\S+(?: \S+)*")
            short = sum(len(piece.split()) for piece in fixed) < 3
            pattern = f"^{body}$" if short else rf"(?:^| ){body}(?: |$)"
            # The longest fixed piece must be in a text for the pattern to match: a cheap first test.
            anchor = max(fixed, key=len)
            self.template_res.append((template, anchor, re.compile(pattern)))

    def find(self, text):
        """The held-out value or template a text contains, or None."""
        value = self.text.find(text)
        if value:
            return value
        normalized = " ".join(G.words(text))
        padded = f" {normalized} "
        for key in self.phrase_keys:
            if f" {key} " in padded:
                return key
        for template, anchor, pattern in self.template_res:
            if anchor in normalized and pattern.search(normalized):
                return template
        return None


# --------------------------------------------------------------------------- tools


@dataclass(frozen=True)
class Request:
    text: str
    verb_first: bool  # an imperative frame ("could you {r}") fits around it


@dataclass
class ProcParam:
    name: str
    archetype: Archetype
    required: bool
    json: dict  # upstream-format parameter object
    kind: object = None  # needlegen Kind for catalog kinds
    enum_surfaces: dict = None
    bool_surfaces: dict = None


@dataclass
class ProcTool:
    name: str
    verb: tuple
    obj: str
    domain: str  # "" when the name has none
    description: str
    params: list  # ProcParam, in listed order

    def json(self):
        return {"name": self.name, "description": self.description,
                "parameters": {p.name: p.json for p in self.params}}

    def can_do(self, other):
        """Whether this tool could carry out a request meant for `other`."""
        return self.verb[0] == other.verb[0] and self.obj == other.obj and self.domain in ("", other.domain)


def snake(words_):
    return "_".join(words_.replace("-", " ").split())


class Generator:
    """Procedural records, with pools and grammar cleared of needle15's held-out side."""

    def __init__(self, plan):
        self.plan = plan
        self.guard = HeldOutGuard(plan)
        self.catalog_names = set(plan.by_name)
        train, held = plan.phrases[False], plan.phrases[True]
        held_all = set(held.wrappers + held.verb_wrappers + held.joiners + held.fillers + held.corrections
                       + held.restarts)
        self.joiners = _allowed(MY_JOINERS, train.joiners, held_all)
        self.fillers = _allowed(MY_FILLERS, train.fillers, held_all)
        self.corrections = _allowed(MY_CORRECTIONS, train.corrections, held_all)
        self.restarts = _allowed(MY_RESTARTS, train.restarts, held_all)
        self.wrappers = _allowed((), train.wrappers, held_all)
        self.frames = _allowed(IMPERATIVE_FRAMES, tuple(w.replace("{q}", "{r}") for w in train.verb_wrappers),
                               {w.replace("{q}", "{r}") for w in held_all})
        # Pool words that are a held-out value themselves would get every query using them redrawn.
        self.domains = tuple(d for d in DOMAINS if not self.guard.find(d))
        self.objects = {c: tuple(o for o in objs if not self.guard.find(o)) for c, objs in OBJECTS.items()}
        self.text_kinds = {kind.spec: kind for kind in plan.text_kinds() if kind.spec in K.ENTITY_POOLS}
        self._slots = []  # (parameter name, spoken value) of the record being built
        self.kinds = {}
        for archetype in ARCHETYPES:
            if ":" not in archetype.kind or archetype.kind.split(":")[0] in ("int", "number"):
                self.kinds[archetype.kind] = K.make_kind(Param("x", archetype.type, "x", archetype.kind), {})

    # -- values

    def invented(self, spec, rng):
        """A made-up text value (or a train-side pool one), containing no held-out text."""
        while True:
            if spec in self.text_kinds and rng.random() < 0.3:
                value = rng.choice(self.text_kinds[spec].pool(False))
            else:
                value = K.synthetic_value("text:phrase" if spec == "phrase" else spec, rng, self.plan.vocabulary)
            if not self.guard.find(value):
                return value

    def draw(self, param, rng):
        """(value for the call, spoken forms of it)."""
        family, _, spec = param.archetype.kind.partition(":")
        if family == "invented":
            value = self.invented(spec, rng)
            return value, [value]
        if family == "array":
            values = [self.invented(spec, rng) for _ in range(rng.randint(1, 3))]
            values = list(dict.fromkeys(values))
            spoken = values[0] if len(values) == 1 else ", ".join(values[:-1]) + " and " + values[-1]
            return values, [spoken]
        if family == "enum":
            value = rng.choice(param.json["enum"])
            return value, list(param.enum_surfaces[value])
        if family == "bool":
            value = rng.random() < 0.5
            return value, list(param.bool_surfaces["true" if value else "false"])
        kind = param.kind
        value = kind.draw(rng, False)
        return value, kind.spoken(value)

    # -- tools

    def make_tool(self, rng, verb=None, obj_class=None, obj=None, domain=None):
        """A tool; any of verb, object class, object and domain may be imposed."""
        for _ in range(100):
            v = verb or rng.choice(VERBS)
            cls = obj_class or rng.choice(v[4])
            if cls not in v[4]:
                continue
            o = obj or rng.choice(self.objects[cls])
            d = domain if domain is not None else (rng.choice(self.domains) if rng.random() < 0.7 else "")
            name = "_".join(part for part in (v[0], snake(d), snake(o)) if part)
            if name in self.catalog_names:
                continue
            return ProcTool(name=name, verb=v, obj=o, domain=d, description=self.describe(rng, v, o, d),
                            params=self.make_params(rng, o))
        raise RuntimeError("no tool name outside the catalog found")  # the pools make this unreachable

    @staticmethod
    def describe(rng, verb, obj, domain):
        where = f" in the {domain}" if domain else ""
        extra = rng.choice(("", "", " on request", " and records who asked", " for the current user",
                            " and returns its new status"))
        return f"{verb[3]} a {obj}{where}{extra}."

    def make_params(self, rng, obj):
        params, names = [], set()
        for archetype in rng.sample(ARCHETYPES, rng.choice((0, 1, 1, 2, 2, 2, 3, 3, 4))):
            name = rng.choice(archetype.names).replace("{obj}", snake(obj))
            if name in names:
                continue
            names.add(name)
            entry = {"type": archetype.type, "description": archetype.description.replace("{obj}", obj),
                     "required": rng.random() < 0.6}
            param = ProcParam(name, archetype, entry["required"], entry, self.kinds.get(archetype.kind))
            family, _, pool = archetype.kind.partition(":")
            if family == "enum":
                values = sorted(ENUM_POOLS[pool])
                chosen = rng.sample(values, rng.randint(2, len(values)))
                entry["enum"] = [v for v in values if v in chosen]
                param.enum_surfaces = ENUM_POOLS[pool]
            elif family == "bool":
                param.bool_surfaces = BOOL_POOLS[pool]
            elif family == "array":
                entry["items"] = {"type": "string"}
            params.append(param)
        return params

    # -- requests

    def object_phrase(self, rng, tool):
        det = rng.choice(DETERMINERS)
        if tool.domain and rng.random() < 0.4:
            return f"{det} {tool.obj} in the {tool.domain}"
        if tool.domain:
            return f"{det} {tool.domain} {tool.obj}"
        return f"{det} {tool.obj}"

    def say_value(self, rng, param, spoken):
        family, _, spec = param.archetype.kind.partition(":")
        if family == "invented" and spec in SPAN_CONTEXT and rng.random() < 0.25:
            return rng.choice(SPAN_CONTEXT[spec]).replace("{v}", spoken)
        return spoken

    def arguments(self, rng, tool, correct=False):
        """(argument phrases, arguments): every required parameter, about half of the optional ones."""
        mentioned = [p for p in tool.params if p.required or rng.random() < 0.5]
        corrected = None
        if correct:
            candidates = [p for p in mentioned if not p.archetype.kind.startswith(("bool", "array"))]
            corrected = rng.choice(candidates) if candidates else None
        phrases, arguments = [], {}
        for param in mentioned:
            value, forms = self.draw(param, rng)
            arguments[param.name] = value
            spoken = self.say_value(rng, param, rng.choice(forms))
            if param is corrected:
                wrong, wrong_forms = value, forms
                for _ in range(20):
                    wrong, wrong_forms = self.draw(param, rng)
                    if wrong != value:
                        break
                if wrong != value:
                    spoken = rng.choice(self.corrections).format(wrong=rng.choice(wrong_forms), right=spoken)
            # The value goes in as a marker, filled in once the query is complete: fillers and false
            # starts split at spaces and so never land inside a value, and the query's template
            # (values as "{name}") comes for free.
            marker = f"{SLOT_MARK}{len(self._slots)}{SLOT_MARK}"
            self._slots.append((param.name, spoken))
            if param.archetype.phrases:
                phrases.append(rng.choice(param.archetype.phrases).replace("{v}", marker))
            else:
                phrases.append(marker)
        rng.shuffle(phrases)
        return phrases, {p.name: arguments[p.name] for p in tool.params if p.name in arguments}

    def request(self, rng, tool, correct=False):
        """(request, arguments); the request starts with its verb unless an argument is put first,
        which a frame then cannot go around ("could you for Sam, ...")."""
        phrases, arguments = self.arguments(rng, tool, correct)
        verb = rng.choice(tool.verb[2])
        obj = self.object_phrase(rng, tool)
        if phrases and rng.random() < 0.25:
            front = phrases.pop(0)
            return Request(f"{front}, {verb} {obj} {' '.join(phrases)}", False), arguments
        return Request(f"{verb} {obj} {' '.join(phrases)}", True), arguments

    def frame(self, rng, request):
        text = rng.choice(self.frames).replace("{r}", request.text) if request.verb_first else request.text
        roll = rng.random()
        if roll < 0.2:
            text = rng.choice(POLITE_OPENERS) + text
        elif roll < 0.4:
            text = text + rng.choice(POLITE_CLOSERS)
        elif roll < 0.5:
            text = rng.choice(self.wrappers).replace("{q}", text)
        return text

    def indirect(self, rng, tool):
        phrases, arguments = self.arguments(rng, tool)
        obj = self.object_phrase(rng, tool)
        text = rng.choice(INDIRECT_FRAMES).format(o=obj, a=" ".join(phrases), p=tool.verb[1])
        return text, arguments

    def add_filler(self, rng, request):
        words_ = request.text.split(" ")
        position = rng.randrange(len(words_))
        filler = rng.choice(self.fillers)
        if position == 0:
            return Request(f"{filler}, {request.text}", False)
        return Request(f"{' '.join(words_[:position])}, {filler}, {' '.join(words_[position:])}",
                       request.verb_first)

    def restart(self, rng, request):
        words_ = request.text.split(" ")
        head = " ".join(words_[:rng.randint(1, 2)])
        return Request(rng.choice(self.restarts).format(head=head, full=request.text), False)

    # -- tool lists

    def tool_list(self, rng, present, avoid, length=None):
        """`present` plus invented distractors that cannot do any `avoid` tool's job, shuffled."""
        total = length if length is not None else rng.randint(max(1, len(present)), MAX_TOOLS)
        chosen = list(present)
        names = {t.name for t in chosen}
        while len(chosen) < total:
            tool = self.make_tool(rng)
            if tool.name in names or any(tool.can_do(a) or a.can_do(tool) for a in avoid):
                continue
            # A distractor naming an avoided tool's object would blur "none" into "near_miss".
            if any(tool.obj == a.obj for a in avoid) and rng.random() < 0.8:
                continue
            names.add(tool.name)
            chosen.append(tool)
        rng.shuffle(chosen)
        return chosen

    def near_miss_decoy(self, rng, tool):
        """A tool that looks close to `tool` but cannot do its job."""
        classes = [c for c, objs in self.objects.items() if tool.obj in objs and c in tool.verb[4]]
        for _ in range(50):
            cls = rng.choice(classes)
            roll = rng.random()
            if roll < 0.45:  # same object, a different verb
                verb = rng.choice([v for v in VERBS if v is not tool.verb and cls in v[4]])
                decoy = self.make_tool(rng, verb=verb, obj_class=cls, obj=tool.obj, domain=tool.domain)
            elif roll < 0.8:  # same verb, another object of the same class
                obj = rng.choice([o for o in self.objects[cls] if o != tool.obj])
                decoy = self.make_tool(rng, verb=tool.verb, obj_class=cls, obj=obj, domain=tool.domain)
            elif tool.domain:  # same verb and object, somewhere else
                domain = rng.choice([d for d in self.domains if d != tool.domain])
                decoy = self.make_tool(rng, verb=tool.verb, obj_class=cls, obj=tool.obj, domain=domain)
            else:
                continue
            if decoy.name != tool.name and not decoy.can_do(tool) and not tool.can_do(decoy):
                return decoy
        return None

    # -- records

    def example(self, rng, call_type):
        """(call_type, query, tools, answers) before the held-out check."""
        if call_type == "no_tools":
            tool = self.make_tool(rng)
            request, _ = self.request(rng, tool)
            return call_type, self.frame(rng, request), [], []
        tool = self.make_tool(rng)
        if call_type == "indirect":
            text, arguments = self.indirect(rng, tool)
            return call_type, text, self.tool_list(rng, [tool], [tool]), [(tool, arguments)]
        if call_type == "disfluent":
            request, arguments = self.request(rng, tool, correct=True)
            if rng.random() < 0.5:
                request = self.add_filler(rng, request)
            if rng.random() < 0.4 and len(request.text.split()) >= 4:
                request = self.restart(rng, request)
            return call_type, self.frame(rng, request), self.tool_list(rng, [tool], [tool]), [(tool, arguments)]
        request, arguments = self.request(rng, tool)
        if call_type == "single":
            return call_type, self.frame(rng, request), self.tool_list(rng, [tool], [tool]), [(tool, arguments)]
        if call_type == "multi":
            second = self.make_tool(rng)
            if second.obj == tool.obj:
                return None
            request2, arguments2 = self.request(rng, second)
            joined = rng.choice(self.joiners).format(a=self.frame(rng, request), b=request2.text)
            return (call_type, joined, self.tool_list(rng, [tool, second], [tool, second]),
                    [(tool, arguments), (second, arguments2)])
        if call_type == "none":
            # The same kind of request as a single one, its tool absent.
            return call_type, self.frame(rng, request), self.tool_list(rng, [], [tool]), []
        if call_type == "near_miss":
            decoy = self.near_miss_decoy(rng, tool)
            if decoy is None:
                return None
            return call_type, self.frame(rng, request), self.tool_list(rng, [decoy], [tool]), []
        raise ValueError(f"unknown call type {call_type!r}")

    def record(self, seed, index, call_type, trace=False):
        for attempt in range(100):
            rng = G.random.Random(K.stable_hash(f"{ID_PREFIX}|{seed}|{index}|{attempt}"))
            self._slots = []
            built = self.example(rng, call_type)
            if built is None:
                continue
            actual_type, draft, tools, calls = built
            template = " ".join(MARKER_RE.sub(lambda m: "{" + self._slots[int(m.group(1))][0] + "}", draft).split())
            query = G.Builder.finish(MARKER_RE.sub(lambda m: self._slots[int(m.group(1))][1], draft), rng)
            if not self.guard.find(query):
                break
        else:
            raise RuntimeError(f"procedural record {index}: no {call_type} query clear of held-out text")
        record = {"id": f"{ID_PREFIX}-{index:06d}", "category": CATEGORY, "call_type": actual_type,
                  "query": query, "tools": [t.json() for t in tools],
                  "answers": [{"name": t.name, "arguments": arguments} for t, arguments in calls]}
        if trace:
            record["_template"] = template
            record["_kinds"] = {t.name: {p.name: p.archetype.kind for p in t.params} for t, _ in calls}
        return record


def call_types(seed, count):
    """The call type of each record, in needle15's mix."""
    rng = G.random.Random(K.stable_hash(f"{ID_PREFIX}|{seed}|jobs"))
    weights = [w for _, w in G.CALL_TYPE_MIX]
    return [rng.choices(G.CALL_TYPES, weights)[0] for _ in range(count)]


def load_generator(catalog_dir=None):
    categories, _ = G.load_catalog(catalog_dir, log=lambda message: None)
    return Generator(G.Plan(categories))


def generate(count, seed=0, generator=None, trace=False):
    """`count` procedural records; the same seed and count give the same records."""
    generator = generator or load_generator()
    return [generator.record(seed, i, call_type, trace) for i, call_type in enumerate(call_types(seed, count))]


def write_jsonl(path, count, seed=0):
    """Writes `count` records as JSONL (needle15's serialisation); returns the number written."""
    records = generate(count, seed)
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(G.dumps(record) + "\n" for record in records)
    return len(records)


def skeleton(template):
    """A template with the tool words abstracted too: "{verb} the {domain} {object} called {title}"."""
    words_ = [(w, "{object}") for objs in OBJECTS.values() for w in objs] + [(d, "{domain}") for d in DOMAINS]
    words_ += [(w, "{verb}") for verb in VERBS for w in verb[2] + (verb[1],)]
    for word, slot in sorted(set(words_), key=lambda item: -len(item[0])):
        template = re.sub(rf"(?<![\w{{]){re.escape(word)}(?![\w}}])", slot, template)
    return template

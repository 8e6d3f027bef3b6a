"""The vocabulary a tool catalog is written in.

A catalog module (one per category, under catalog/) defines

    CATEGORY = "smart_kitchen"          # the record's "category" field
    TITLE = "Smart kitchen appliances"  # for the dataset card
    POOLS = {"recipe": (...), ...}       # domain values, referenced as kind "text:recipe"
    TOOLS = (Tool(...), ...)            # at least 8

Templates are query text with "{param}" slots. A slot is filled by the parameter's kind
(see kinds.py); the expected call holds exactly the parameters a template mentions, so
optional parameters appear in some templates and not in others.
"""

from dataclasses import dataclass, field

PARAM_TYPES = ("string", "number", "integer", "boolean")


@dataclass(frozen=True)
class Param:
    name: str
    type: str  # one of PARAM_TYPES: the JSON type of the value in the call
    description: str
    kind: str  # how a value is drawn and spoken: see kinds.KINDS
    required: bool = True
    # kind "enum": the canonical values, as they appear in the call and in the tool's "enum".
    enum: tuple = ()
    # kind "enum": canonical value -> other ways to say it ("celsius": ("centigrade",)).
    # kind "bool": "true"/"false" -> phrases that fill the slot ("turn on", "switch on").
    surfaces: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Tool:
    name: str  # snake_case
    description: str
    params: tuple
    # Direct requests. At least 6; the generator holds some out for the test split.
    templates: tuple
    # Requests where the need is implied ("my hands are full, the pasta has 8 minutes left").
    # At least 2 where the tool allows it; may name slots like templates do.
    indirect: tuple = ()
    # Names of tools (any category) easily confused with this one; used for near-miss examples.
    near_miss: tuple = ()

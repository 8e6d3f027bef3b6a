"""Build a Needle-compatible SentencePiece tokenizer, and lay out prompts as Needle does.

The tokenizer has upstream's id layout (NEEDLE.md): PAD=0, EOS=1 (`</s>`), BOS=2, UNK=3,
`<tool_call>`=4, `<tools>`=5, the word-boundary mark U+2581 (see below), the 256
byte-fallback pieces, then learned BPE pieces, 8192 in all. It is trained on our dataset's
text or on a synthetic corpus generated here from word lists, so anyone can rebuild it bit
for bit without downloading anything.

Trainer options are upstream's (model_type bpe, byte_fallback, identity normalisation,
those special ids, add_dummy_prefix, remove_extra_whitespaces) with two departures that make
a value copy token for token from the query into the answer:
  - the word-boundary mark U+2581 is a user-defined symbol, so it is always a piece of its
    own. Otherwise "Paris" is one piece after a space in the query ("\u2581Paris") and another
    after a quote in the answer JSON ('"Paris'), and a small model must learn that pairing
    for every value, which it cannot for names it never saw in training;
  - split_digits: a number is its digits, the same pieces wherever it stands, instead of
    being merged with the JSON punctuation around it ('":74,"').
Both cost about 29% more encoder tokens on needle15 (570 against 443 a test prompt).
num_threads=1 keeps training deterministic.

Command line:
    needle_tokenizer_build.py build OUT.model [--seed N] [--vocab-size 8192]
    needle_tokenizer_build.py tokenize --tokenizer T.model --query TEXT --tools JSON
"""

import argparse
import io
import json
import random
import sys

PAD_ID, EOS_ID, BOS_ID, UNK_ID = 0, 1, 2, 3
TOOL_CALL_ID, TOOLS_ID = 4, 5
WORD_BOUNDARY = "\u2581"
USER_SYMBOLS = ["<tool_call>", "<tools>", WORD_BOUNDARY]
VOCAB_SIZE = 8192
MAX_ENCODER_TOKENS = 1024
MAX_QUERY_TOKENS = 1022


# ---------------------------------------------------------------------------------------
# Prompt layout
# ---------------------------------------------------------------------------------------

def snake_case(name):
    """Tool name -> snake_case by the rule of engine/src/tools.cc (SnakeCase), upstream's.

    An upper-case letter gets a "_" before it when it follows a lower-case letter or digit,
    or when it starts a capitalised word after an acronym ("HTTPRequest" -> "http_request");
    every run of characters outside [A-Za-z0-9_] and of "_" becomes one "_"; leading and
    trailing "_" are stripped; everything is lower-cased. Only ASCII letters and digits
    count ("caf\u00e9_info" -> "caf_info").
    """
    def is_upper(c):
        return "A" <= c <= "Z"

    def is_lower(c):
        return "a" <= c <= "z"

    def is_digit(c):
        return "0" <= c <= "9"

    out = []
    for i, c in enumerate(name):
        if not (is_upper(c) or is_lower(c) or is_digit(c)):
            if out and out[-1] != "_":
                out.append("_")
            continue
        if is_upper(c):
            prev = name[i - 1] if i > 0 else ""
            after_word = i > 0 and (is_lower(prev) or is_digit(prev))
            ends_acronym = i > 0 and is_upper(prev) and i + 1 < len(name) and is_lower(name[i + 1])
            if (after_word or ends_acronym) and out and out[-1] != "_":
                out.append("_")
            out.append(c.lower())
            continue
        out.append(c)
    return "".join(out).rstrip("_")


def tools_json(tools):
    """Compact JSON of the tools with snake_case names, keys in their given order."""
    renamed = []
    for tool in tools:
        tool = dict(tool)
        if isinstance(tool.get("name"), str):
            tool["name"] = snake_case(tool["name"])
        renamed.append(tool)
    return json.dumps(renamed, separators=(",", ":"))


def encoder_tokens(sp, query, tools):
    """tokens(query)[:1022] + [<tools>] + tokens(tools_json), cut to 1024 in total."""
    query_ids = sp.encode(query, out_type=int)[:MAX_QUERY_TOKENS]
    tool_ids = sp.encode(tools_json(tools), out_type=int)
    return (query_ids + [TOOLS_ID] + tool_ids)[:MAX_ENCODER_TOKENS]


# ---------------------------------------------------------------------------------------
# Synthetic corpus
# ---------------------------------------------------------------------------------------

# Everyday and domain vocabulary. Each domain lists (tool verb, tool object, parameters);
# a parameter is (name, type, description, value kind). Value kinds pick generators below.
DOMAINS = {
    "timers and alarms": [
        ("set", "timer", [("minutes", "number", "Duration of the timer in minutes", "small_int"),
                          ("label", "string", "Optional name for the timer", "label")]),
        ("set", "alarm", [("time", "string", "Time of day for the alarm, like 7:30 AM", "clock"),
                          ("repeat", "boolean", "Whether the alarm repeats every day", "bool")]),
        ("cancel", "alarm", [("time", "string", "Time of the alarm to cancel", "clock")]),
        ("start", "stopwatch", []),
    ],
    "messaging and calls": [
        ("send", "message", [("recipient", "string", "Name of the contact to message", "person"),
                             ("message", "string", "Text of the message", "sentence")]),
        ("call", "contact", [("name", "string", "Name of the person to call", "person"),
                             ("video", "boolean", "Make it a video call", "bool")]),
        ("read", "messages", [("sender", "string", "Only messages from this contact", "person"),
                              ("count", "number", "How many recent messages to read", "small_int")]),
        ("send", "email", [("to", "string", "Email address of the recipient", "email"),
                           ("subject", "string", "Subject line", "title"),
                           ("body", "string", "Body of the email", "sentence")]),
    ],
    "smart home": [
        ("turn_on", "lights", [("room", "string", "Room where the lights are", "room"),
                               ("brightness", "number", "Brightness in percent", "percent")]),
        ("turn_off", "lights", [("room", "string", "Room where the lights are", "room")]),
        ("set", "thermostat", [("temperature", "number", "Target temperature in degrees", "temperature"),
                               ("mode", "string", "heat, cool or auto", "thermo_mode")]),
        ("lock", "door", [("door", "string", "Which door to lock", "door")]),
        ("play", "music", [("song", "string", "Song, album or artist", "title"),
                           ("volume", "number", "Volume from 0 to 100", "percent"),
                           ("shuffle", "boolean", "Shuffle the playlist", "bool")]),
    ],
    "device settings": [
        ("set", "volume", [("level", "number", "Volume level from 0 to 100", "percent")]),
        ("toggle", "wifi", [("enabled", "boolean", "Turn wifi on or off", "bool")]),
        ("set", "brightness", [("level", "number", "Screen brightness in percent", "percent")]),
        ("enable", "do_not_disturb", [("until", "string", "When to switch it off again", "clock")]),
    ],
    "navigation": [
        ("get", "directions", [("destination", "string", "Where to go", "place"),
                               ("mode", "string", "driving, walking, cycling or transit", "travel_mode")]),
        ("find", "nearby", [("category", "string", "Kind of place, like cafe or pharmacy", "poi"),
                            ("radius", "number", "Search radius in kilometers", "small_int")]),
        ("get", "weather", [("location", "string", "City name", "city"),
                            ("days", "number", "Number of days of forecast", "small_int")]),
        ("share", "location", [("contact", "string", "Who to share it with", "person"),
                               ("duration", "number", "Minutes to share for", "minutes")]),
    ],
    "smart kitchen appliances": [
        ("preheat", "oven", [("temperature", "number", "Oven temperature in degrees", "oven_temp"),
                             ("mode", "string", "bake, broil or convection", "oven_mode")]),
        ("start", "coffee_maker", [("strength", "string", "mild, medium or strong", "strength"),
                                   ("cups", "number", "Number of cups", "small_int")]),
        ("set", "fridge_temperature", [("temperature", "number", "Fridge temperature in degrees", "temperature")]),
        ("add", "grocery_item", [("item", "string", "Item to add to the list", "grocery"),
                                 ("quantity", "number", "How many to buy", "small_int")]),
    ],
    "pet care and pet tech": [
        ("schedule", "feeding", [("pet_name", "string", "Name of the pet", "pet"),
                                 ("time", "string", "Feeding time", "clock"),
                                 ("portion_grams", "number", "Portion size in grams", "grams")]),
        ("track", "pet_location", [("pet_name", "string", "Name of the pet", "pet")]),
        ("book", "vet_appointment", [("pet_name", "string", "Name of the pet", "pet"),
                                     ("date", "string", "Date of the visit", "date"),
                                     ("reason", "string", "Reason for the visit", "vet_reason")]),
    ],
    "personal finance and budgeting": [
        ("log", "expense", [("amount", "number", "Amount spent", "money"),
                            ("category", "string", "Spending category", "expense_category"),
                            ("note", "string", "Short note", "label")]),
        ("check", "balance", [("account", "string", "Which account", "account")]),
        ("transfer", "money", [("amount", "number", "Amount to transfer", "money"),
                               ("to_account", "string", "Destination account", "account")]),
        ("set", "budget", [("category", "string", "Budget category", "expense_category"),
                           ("limit", "number", "Monthly limit", "money")]),
    ],
    "study and education tools": [
        ("create", "flashcard", [("front", "string", "Question side", "sentence"),
                                 ("back", "string", "Answer side", "label"),
                                 ("deck", "string", "Deck name", "subject")]),
        ("start", "study_session", [("subject", "string", "Subject to study", "subject"),
                                    ("minutes", "number", "Length of the session", "minutes")]),
        ("check", "assignment_due", [("course", "string", "Course name", "subject")]),
    ],
    "creative tools": [
        ("generate", "color_palette", [("theme", "string", "Mood or theme", "adjective_noun"),
                                       ("colors", "number", "How many colors", "small_int")]),
        ("create", "sketch", [("canvas", "string", "Canvas size, like A4", "canvas"),
                              ("brush", "string", "Brush type", "brush")]),
        ("record", "voice_memo", [("title", "string", "Title of the memo", "title")]),
    ],
    "gardening and plant care": [
        ("water", "plants", [("zone", "string", "Garden zone", "garden_zone"),
                             ("liters", "number", "Amount of water in liters", "small_int")]),
        ("check", "soil_moisture", [("plant", "string", "Plant name", "plant")]),
        ("set", "plant_reminder", [("plant", "string", "Plant name", "plant"),
                                   ("every_days", "number", "Reminder interval in days", "small_int")]),
    ],
    "meeting and collaboration": [
        ("schedule", "meeting", [("title", "string", "Meeting title", "title"),
                                 ("date", "string", "Meeting date", "date"),
                                 ("time", "string", "Start time", "clock"),
                                 ("attendees", "string", "Comma separated names", "people")]),
        ("share", "document", [("document", "string", "Document name", "title"),
                               ("with_user", "string", "Person to share with", "person"),
                               ("can_edit", "boolean", "Allow editing", "bool")]),
        ("create", "task", [("title", "string", "Task description", "sentence"),
                            ("due_date", "string", "Due date", "date"),
                            ("priority", "string", "low, medium or high", "priority")]),
    ],
    "home maintenance": [
        ("schedule", "repair", [("appliance", "string", "What needs fixing", "appliance"),
                                ("date", "string", "Preferred date", "date")]),
        ("check", "filter_status", [("device", "string", "Device with the filter", "appliance")]),
        ("log", "maintenance", [("task", "string", "What was done", "sentence"),
                                ("cost", "number", "Cost of the work", "money")]),
    ],
    "sports and outdoor activities": [
        ("log", "workout", [("activity", "string", "Kind of workout", "sport"),
                            ("duration_minutes", "number", "Workout length", "minutes"),
                            ("distance_km", "number", "Distance covered", "distance")]),
        ("find", "trail", [("location", "string", "Area to search", "city"),
                           ("difficulty", "string", "easy, moderate or hard", "difficulty")]),
        ("check", "tide", [("beach", "string", "Beach name", "place")]),
    ],
    "baby and childcare": [
        ("log", "feeding", [("amount_ml", "number", "Amount in milliliters", "ml"),
                            ("side", "string", "left, right or bottle", "feed_side")]),
        ("log", "diaper_change", [("kind", "string", "wet, dirty or both", "diaper")]),
        ("start", "sleep_tracking", [("child", "string", "Name of the child", "person")]),
    ],
    "subscription and account management": [
        ("cancel", "subscription", [("service", "string", "Name of the service", "service")]),
        ("list", "subscriptions", [("active_only", "boolean", "Only active subscriptions", "bool")]),
        ("update", "payment_method", [("service", "string", "Name of the service", "service"),
                                      ("card_last_four", "string", "Last four digits of the card", "four_digits")]),
    ],
    "custom device peripherals": [
        ("launch", "drone", [("altitude_m", "number", "Altitude in meters", "altitude"),
                             ("return_home", "boolean", "Return home when the battery is low", "bool")]),
        ("start", "print_job", [("file", "string", "Model file to print", "model_file"),
                                ("infill_percent", "number", "Infill density", "percent")]),
        ("show", "mirror_widget", [("widget", "string", "Widget to show on the smart mirror", "widget")]),
        ("update", "eink_display", [("text", "string", "Text for the e-ink display", "sentence")]),
    ],
    "language learning": [
        ("translate", "phrase", [("text", "string", "Text to translate", "sentence"),
                                 ("target_language", "string", "Language to translate into", "language")]),
        ("start", "lesson", [("language", "string", "Language to practice", "language"),
                             ("level", "string", "beginner, intermediate or advanced", "level")]),
        ("quiz", "vocabulary", [("language", "string", "Language", "language"),
                                ("words", "number", "Number of words", "small_int")]),
    ],
    "car maintenance": [
        ("schedule", "oil_change", [("date", "string", "Preferred date", "date"),
                                    ("garage", "string", "Garage name", "business")]),
        ("check", "tire_pressure", [("tire", "string", "front left, front right, rear left or rear right", "tire")]),
        ("log", "fuel", [("liters", "number", "Liters of fuel", "small_int"),
                         ("price", "number", "Total price", "money")]),
    ],
    "event planning": [
        ("create", "event", [("name", "string", "Event name", "title"),
                             ("date", "string", "Event date", "date"),
                             ("guests", "number", "Expected number of guests", "guests")]),
        ("send", "invitations", [("event", "string", "Event name", "title"),
                                 ("guests", "string", "Comma separated guest names", "people")]),
        ("book", "venue", [("venue", "string", "Venue name", "business"),
                           ("date", "string", "Date", "date")]),
    ],
}

WORDS = {
    "room": "kitchen living_room bedroom bathroom office garage hallway basement attic nursery patio dining_room",
    "door": "front_door back_door garage_door side_gate patio_door",
    "thermo_mode": "heat cool auto eco",
    "travel_mode": "driving walking cycling transit",
    "poi": "cafe pharmacy gas_station supermarket bakery library gym hospital bank park museum restaurant",
    "oven_mode": "bake broil convection",
    "strength": "mild medium strong",
    "grocery": ("milk eggs bread butter apples bananas rice pasta coffee tea cheese yogurt tomatoes onions "
                "garlic spinach carrots chicken salmon flour sugar olive_oil cereal oranges lemons"),
    "vet_reason": "checkup vaccination limping coughing dental_cleaning skin_rash",
    "expense_category": "groceries rent transport dining entertainment utilities health travel clothing gifts",
    "account": "checking savings credit_card joint_account business_account",
    "subject": "biology chemistry physics algebra history geography literature economics statistics spanish",
    "canvas": "A4 A3 square letter widescreen",
    "brush": "pencil ink watercolor charcoal airbrush marker",
    "garden_zone": "front_yard backyard greenhouse vegetable_bed balcony herb_garden",
    "plant": "basil tomato fern orchid cactus monstera lavender rosemary succulent bonsai",
    "priority": "low medium high",
    "appliance": "dishwasher washing_machine dryer furnace water_heater air_conditioner refrigerator",
    "sport": "running cycling swimming yoga rowing hiking tennis climbing",
    "difficulty": "easy moderate hard",
    "feed_side": "left right bottle",
    "diaper": "wet dirty both",
    "service": "Netflix Spotify Hulu Dropbox Audible Disney+ YouTube_Premium iCloud Duolingo Peloton",
    "widget": "weather calendar news clock commute quotes",
    "language": "Spanish French German Italian Japanese Korean Portuguese Mandarin Dutch Swedish",
    "level": "beginner intermediate advanced",
    "tire": "front_left front_right rear_left rear_right",
    "pet_kind": "dog cat parrot rabbit hamster turtle",
    "adjective": ("calm bright warm cozy vintage modern rustic playful bold soft dark sunny autumn ocean "
                  "forest desert neon pastel minimal festive"),
    "noun": ("sunset garden morning city beach mountain river meadow library studio kitchen harbor "
             "festival winter spring dream journey story"),
}

FIRST_SYLLABLES = ("al an ar be bo ca da de el em fa fi ga ha ja jo ka ke la li lu ma mi mo na ni "
                   "ol pa pe ra ri ro sa se si ta te to va vi wi ya za").split()
LAST_SYLLABLES = ("na ra la ta son ton ley ly ria dra ven vin der dan mir lo ko ra sha tte ne nia "
                  "bert ford wick mond ric rick well stein berg ssa ce ga").split()
CITIES = ("Paris London Tokyo Berlin Madrid Rome Lisbon Dublin Oslo Vienna Prague Warsaw Seoul "
          "Toronto Chicago Boston Denver Seattle Austin Miami Sydney Melbourne Auckland Nairobi "
          "Cairo Lagos Mumbai Delhi Bangkok Singapore Jakarta Manila Lima Bogota Santiago Quito "
          "Montreal Vancouver Helsinki Stockholm Copenhagen Amsterdam Brussels Zurich Athens").split()
POLITE = ["", "", "", "please ", "can you ", "could you ", "hey, ", "I need you to ", "quickly ",
          "would you ", "um, ", "okay so ", "go ahead and "]
SENTENCE_BITS = [
    "I will be there in {n} minutes", "running a bit late", "call me when you land",
    "don't forget the {g}", "see you at {c}", "the meeting moved to {c}", "pick up {g} on the way",
    "happy birthday {p}", "thanks for dinner", "can we talk tomorrow", "the package arrived",
    "remember to water the {pl}", "how was the trip to {city}", "bring the {g} please",
]


def _pseudo_name(rng):
    """A pronounceable made-up name; they give the BPE trainer plenty to merge."""
    name = rng.choice(FIRST_SYLLABLES) + rng.choice(LAST_SYLLABLES)
    if rng.random() < 0.3:
        name = rng.choice(FIRST_SYLLABLES) + name
    return name.capitalize()


def _words(kind):
    return WORDS[kind].split()


def _value(kind, rng):
    """A (JSON value, phrase used in the query) pair for one parameter value kind."""
    if kind == "small_int":
        n = rng.randint(1, 12)
        return n, str(n)
    if kind in ("minutes", "percent", "guests", "grams", "ml", "altitude", "distance"):
        top = {"minutes": 120, "percent": 100, "guests": 300, "grams": 500, "ml": 300,
               "altitude": 400, "distance": 60}[kind]
        n = rng.randint(1, top)
        unit = {"minutes": " minutes", "percent": " percent", "guests": " guests", "grams": " grams",
                "ml": " ml", "altitude": " meters", "distance": " km"}[kind]
        return n, f"{n}{unit}"
    if kind == "temperature":
        n = rng.randint(16, 28)
        return n, f"{n} degrees"
    if kind == "oven_temp":
        n = rng.choice(range(150, 260, 5))
        return n, f"{n} degrees"
    if kind == "money":
        amount = round(rng.uniform(1, 2500), rng.choice([0, 2]))
        amount = int(amount) if float(amount).is_integer() else amount
        return amount, rng.choice(["$", "", "EUR "]) + str(amount)
    if kind == "four_digits":
        s = f"{rng.randint(0, 9999):04d}"
        return s, f"ending in {s}"
    if kind == "clock":
        h, m = rng.randint(1, 12), rng.choice([0, 5, 10, 15, 20, 30, 40, 45, 50])
        s = f"{h}:{m:02d} {rng.choice(['AM', 'PM'])}"
        return s, s
    if kind == "date":
        month = rng.choice("January February March April May June July August September October "
                           "November December".split())
        s = f"{month} {rng.randint(1, 28)}"
        if rng.random() < 0.3:
            s = rng.choice(["tomorrow", "today", "next Monday", "next Friday", "this weekend"])
        return s, s
    if kind == "bool":
        b = rng.random() < 0.5
        return b, ""  # the query wording comes from the parameter name
    if kind == "person":
        s = _pseudo_name(rng)
        return s, s
    if kind == "people":
        s = ", ".join(_pseudo_name(rng) for _ in range(rng.randint(2, 4)))
        return s, s
    if kind == "pet":
        s = _pseudo_name(rng)
        return s, f"{s} the {rng.choice(_words('pet_kind'))}"
    if kind == "email":
        s = f"{_pseudo_name(rng).lower()}@{rng.choice(['example.com', 'mail.org', 'work.net'])}"
        return s, s
    if kind in ("city", "place"):
        if kind == "city" or rng.random() < 0.5:
            s = rng.choice(CITIES)
        else:
            s = f"{_pseudo_name(rng)} {rng.choice(['Beach', 'Park', 'Station', 'Street', 'Mall'])}"
        return s, s
    if kind == "business":
        s = f"{_pseudo_name(rng)}'s {rng.choice(['Garage', 'Hall', 'Auto', 'Gardens', 'Loft', 'Center'])}"
        return s, s
    if kind in ("title", "label"):
        s = f"{rng.choice(_words('adjective'))} {rng.choice(_words('noun'))}"
        s = s.title() if kind == "title" else s
        return s, s
    if kind == "adjective_noun":
        s = f"{rng.choice(_words('adjective'))} {rng.choice(_words('noun'))}"
        return s, s
    if kind == "sentence":
        s = rng.choice(SENTENCE_BITS).format(
            n=rng.randint(2, 45), g=rng.choice(_words("grocery")).replace("_", " "),
            c=_value("clock", rng)[0], p=_pseudo_name(rng), pl=rng.choice(_words("plant")),
            city=rng.choice(CITIES))
        return s, f'"{s}"'
    if kind == "model_file":
        s = f"{_pseudo_name(rng).lower()}_{rng.choice(['bracket', 'vase', 'gear', 'case'])}.stl"
        return s, s
    s = rng.choice(_words(kind)).replace("_", " ")
    return s, s


def _tool(verb, obj, params):
    """Upstream tool format: parameters map name -> {type, description, required}."""
    name = f"{verb}_{obj}"
    description = f"{verb.replace('_', ' ').capitalize()} the {obj.replace('_', ' ')}."
    properties = {}
    for index, (pname, ptype, pdesc, _) in enumerate(params):
        properties[pname] = {"type": ptype, "description": pdesc, "required": index == 0}
    return {"name": name, "description": description, "parameters": properties}


def _call_and_query(verb, obj, params, rng):
    arguments, phrases = {}, []
    for index, (pname, ptype, _, kind) in enumerate(params):
        if index > 0 and rng.random() < 0.4:
            continue  # optional parameters are often left out
        value, phrase = _value(kind, rng)
        arguments[pname] = value
        if ptype == "boolean":
            phrase = pname.replace("_", " ") if value else f"no {pname.replace('_', ' ')}"
        phrases.append(phrase)
    connector = rng.choice([" ", " for ", " with ", ", "])
    query = f"{rng.choice(POLITE)}{verb.replace('_', ' ')} the {obj.replace('_', ' ')}"
    if phrases:
        query += connector + rng.choice([" and ", ", ", " "]).join(phrases)
    if rng.random() < 0.5:
        query = query[0].upper() + query[1:]
    query += rng.choice(["", "", ".", "?", " please", " thanks"])
    return {"name": f"{verb}_{obj}", "arguments": arguments}, query


def generate_corpus(seed=0, examples=3000):
    """Deterministic lines of queries, compact tool lists and answers, as upstream trains on."""
    rng = random.Random(seed)
    catalogue = [(domain, spec) for domain, specs in DOMAINS.items() for spec in specs]
    lines = []
    for _ in range(examples):
        picked = rng.sample(catalogue, rng.randint(1, 6))
        tools = [_tool(verb, obj, params) for _, (verb, obj, params) in picked]
        calls, queries = [], []
        kind = rng.random()
        if kind < 0.1:
            queries.append(rng.choice(["what's the meaning of life", "tell me a joke",
                                       f"who won the game in {rng.choice(CITIES)}",
                                       f"how do you say {_pseudo_name(rng)} backwards"]))
        else:
            count = 2 if kind > 0.8 and len(picked) > 1 else 1
            for _, (verb, obj, params) in picked[:count]:
                call, query = _call_and_query(verb, obj, params, rng)
                calls.append(call)
                queries.append(query)
        lines.append(" and then ".join(queries))
        lines.append(json.dumps(tools, separators=(",", ":")))
        lines.append(json.dumps(calls, separators=(",", ":")))
    return lines


def dataset_corpus(path, records=8000):
    """Training lines from one of our dataset files: each record's query, tools and answers.

    The lines are laid out as the model sees them (compact tool JSON, compact answers), so
    the learned pieces fit what the encoder and decoder actually read and write.
    """
    lines = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if len(lines) >= 3 * records:
                break
            record = json.loads(line)
            lines.append(record["query"])
            lines.append(tools_json(record["tools"]))
            lines.append(json.dumps(record["answers"], separators=(",", ":"), ensure_ascii=False))
    return lines


def train_tokenizer(lines, model_path, vocab_size=VOCAB_SIZE):
    """Train the BPE model on `lines` and write it to `model_path`."""
    import sentencepiece as spm

    # Feeding sentences from memory and taking the model from memory keeps temporary file
    # names out of the trainer_spec stored in the model, so rebuilds are byte-identical.
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="bpe",
        byte_fallback=True,
        normalization_rule_name="identity",
        pad_id=PAD_ID, eos_id=EOS_ID, bos_id=BOS_ID, unk_id=UNK_ID,
        user_defined_symbols=USER_SYMBOLS,
        add_dummy_prefix=True,
        remove_extra_whitespaces=True,
        split_digits=True,
        num_threads=1,
        # Tool lists are long single lines; the default 4192-byte limit would drop them.
        max_sentence_length=16384,
        minloglevel=2,
    )
    with open(model_path, "wb") as f:
        f.write(model.getvalue())
    check_tokenizer(model_path, vocab_size)


def check_tokenizer(model_path, vocab_size=VOCAB_SIZE):
    """Raise if the model does not have Needle's id layout."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=model_path)
    expected = {PAD_ID: "<pad>", EOS_ID: "</s>", BOS_ID: "<s>", UNK_ID: "<unk>",
                TOOL_CALL_ID: "<tool_call>", TOOLS_ID: "<tools>"}
    for token_id, piece in expected.items():
        if sp.id_to_piece(token_id) != piece:
            raise ValueError(f"{model_path}: id {token_id} is {sp.id_to_piece(token_id)!r}, expected {piece!r}")
    if sp.get_piece_size() != vocab_size:
        raise ValueError(f"{model_path}: vocab has {sp.get_piece_size()} pieces, expected {vocab_size}")
    return sp


def main(argv=None):
    parser = argparse.ArgumentParser(description="Build a Needle tokenizer / tokenize a prompt")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("build", help="train a tokenizer on a dataset split or the word-list corpus")
    p.add_argument("output")
    p.add_argument("--dataset", help="one of our dataset JSONL files (e.g. datasets/needle15/train.jsonl); "
                                     "without it, the synthetic word-list corpus")
    p.add_argument("--records", type=int, default=8000, help="with --dataset: records to read")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--vocab-size", type=int, default=VOCAB_SIZE)
    p = sub.add_parser("tokenize", help="print the encoder tokens of a query and tools")
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--query", required=True)
    p.add_argument("--tools", required=True, help="JSON list of tools")
    args = parser.parse_args(argv)

    if args.command == "build":
        lines = dataset_corpus(args.dataset, args.records) if args.dataset else generate_corpus(args.seed)
        train_tokenizer(lines, args.output, args.vocab_size)
        print(f"wrote {args.output}")
    else:
        import sentencepiece as spm

        sp = spm.SentencePieceProcessor(model_file=args.tokenizer)
        print(json.dumps({"encoder_tokens": encoder_tokens(sp, args.query, json.loads(args.tools))}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Value kinds: how a slot's value is drawn, split and spoken.

A kind turns a canonical value (what goes into the call) into one of several
spoken forms (what goes into the query), so the model learns to normalise
"half past seven in the evening" to "19:30". Every kind's values are split
into train and held-out (test) values by a hash of the value, never by a
random generator, so the split does not move when the generator changes.

Shared pools (person, city, place, email, phone and the text pools) live here
so that every catalog module draws from the same names.
"""

import datetime
import hashlib
import math

HELD_OUT_FRACTION = 0.2

# Ranges larger than this are not enumerated: membership is decided by a hash
# threshold and values are drawn by rejection.
ENUMERATE_LIMIT = 2000


def stable_hash(text):
    """A 64-bit hash that is the same on every machine and Python run."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def split_by_hash(items, key, fraction=HELD_OUT_FRACTION):
    """(train, held_out): the held-out part is the ceil(fraction * n) items of lowest hash.

    Ranking rather than thresholding guarantees at least one item on each side
    whenever there are two or more items.
    """
    items = list(items)
    if len(items) < 2:
        return items, []
    count = min(len(items) - 1, max(1, math.ceil(fraction * len(items))))
    ranked = sorted(items, key=lambda item: (stable_hash(key(item)), key(item)))
    held = set(id(item) for item in ranked[:count])
    return [i for i in items if id(i) not in held], [i for i in items if id(i) in held]


def text_key(text):
    """Text values and templates share fate by their wording, whatever pool holds them."""
    return "text|" + " ".join(text.lower().split())


# --------------------------------------------------------------------------- shared pools

PERSONS = (
    "Maria Lopez", "Sam", "David Chen", "Priya", "Tom Becker", "Aisha Khan", "Lucas", "Emma Schultz",
    "Kenji Watanabe", "Olivia", "Mateo Garcia", "Fatima", "Noah Williams", "Chloe", "Ravi Patel",
    "Sofia Rossi", "Jonas", "Hannah Meyer", "Omar Haddad", "Grace", "Liam O'Brien", "Yuki", "Ines Ferreira",
    "Daniel", "Zara Ahmed", "Felix", "Amara Okafor", "Leo Novak", "Mia", "Carlos Mendes", "Nadia",
    "Ethan Brooks", "Lena Fischer", "Hiroshi", "Isabel Castro", "Marcus", "Chen Wei", "Anya Petrova",
    "Kofi Mensah", "Elena", "Tariq", "Sara Lindqvist", "Ben Carter", "Mom", "Dad", "Grandma",
    "Uncle Raj", "Aunt Lucy", "Jasmine", "Viktor Horvat", "Nia Thompson", "Pablo", "Ingrid Larsen",
    "Dr. Patel", "Coach Rivera", "Tessa", "Arjun Mehta", "Camille Dubois", "Rosa", "Erik Johansson",
)

CITIES = (
    "Lisbon", "Chicago", "Tokyo", "Nairobi", "Toronto", "Madrid", "Seoul", "Denver", "Berlin", "Sydney",
    "Mumbai", "Boston", "Vienna", "Lima", "Osaka", "Dublin", "Austin", "Cape Town", "Prague", "Seattle",
    "Mexico City", "Oslo", "Bangkok", "Atlanta", "Montreal", "Rome", "Buenos Aires", "Helsinki", "Portland",
    "Istanbul", "Singapore", "Edinburgh", "Phoenix", "Copenhagen", "Marseille", "Kyoto", "Vancouver",
    "Athens", "Lagos", "San Diego", "Krakow", "Melbourne", "Nashville", "Porto", "Hanoi", "Zurich",
    "Bogota", "Manchester", "Reykjavik", "Auckland",
)

PLACES = (
    "Union Station", "42 Elm Street", "the airport", "Central Library", "Riverside Park", "the office",
    "Grandma's house", "Lakeview Mall", "the train station", "City Hospital", "18 Oak Avenue",
    "the gym", "Harbor Bridge", "the nearest gas station", "Maple Elementary School", "the farmers market",
    "Westside Clinic", "the stadium", "7 Birch Lane", "the museum of art", "Pine Street Bakery",
    "the post office", "North Beach", "Sunset Cafe", "the city center", "Greenfield Campus",
    "the ferry terminal", "Hilltop Trailhead", "the dentist's office", "230 Market Street",
    "the closest pharmacy", "Old Town Square", "the bus depot", "Cedar Ridge Golf Club",
    "the hardware store", "Bayside Marina", "the concert hall", "15 Willow Court", "the kids' school",
    "Eastgate Shopping Center", "the vet clinic", "Lincoln Park Zoo", "the bowling alley",
    "Fairview Hotel", "the car wash", "Elmwood Cinema",
)

EMAILS = (
    "maria.lopez@example.com", "sam@example.org", "david.chen@example.net", "priya.r@example.com",
    "tom.becker@example.de", "aisha.khan@example.com", "lucas.m@example.org", "emma.s@example.com",
    "kenji.w@example.jp", "olivia.h@example.com", "mateo.garcia@example.es", "fatima.z@example.com",
    "noah.w@example.com", "chloe.b@example.org", "ravi.patel@example.in", "sofia.rossi@example.it",
    "jonas.k@example.com", "hannah.meyer@example.de", "omar.h@example.com", "grace.lee@example.org",
    "liam.obrien@example.ie", "yuki.t@example.jp", "ines.f@example.pt", "daniel.k@example.com",
    "zara.ahmed@example.com", "felix.n@example.org", "amara.o@example.com", "leo.novak@example.cz",
    "mia.j@example.com", "carlos.m@example.br", "nadia.s@example.com", "ethan.b@example.com",
    "lena.fischer@example.at", "support@example.com", "billing@example.com", "team@example.org",
    "frontdesk@example.net", "hello@example.io", "orders@example.shop", "office@example.com",
    "coach.rivera@example.org", "camille.d@example.fr", "erik.j@example.se", "nia.t@example.com",
)

PHONES = tuple(f"555-01{n:02d}" for n in range(100))

MESSAGES = (
    "running ten minutes late", "can you grab bread on the way home", "I'm outside", "happy birthday",
    "call me when you land", "dinner is ready", "see you at the game", "did you feed the dog",
    "the meeting moved to Thursday", "thanks for today", "I left my keys at your place",
    "can we reschedule", "on my way", "don't forget the tickets", "good luck with the exam",
    "what time is practice", "the package arrived", "love you", "let's get pizza tonight",
    "I'll pick up the kids", "are you free this weekend", "the car is fixed", "bring a jacket",
    "I'm at the front desk", "save me a seat", "traffic is terrible", "we're out of coffee",
    "the wifi password is on the fridge", "congrats on the new job", "check your email",
    "I found your wallet", "can you send the photos", "movie starts at eight", "text me the address",
    "I'll be home soon", "the plumber is here", "meet me by the entrance", "sorry I missed your call",
    "the report is done", "let me know when you're up", "the cake was amazing", "heading to the gym",
    "don't wait up", "parking is full, circling around", "the flight is delayed",
)

NOTES = (
    "ideas for the garden party", "tire size is 205/55 R16", "gift ideas for Dad", "packing list for the trip",
    "questions for the landlord", "wifi router is in the hall closet", "book recommendations from work",
    "the spare key is under the blue pot", "paint color is Harbor Mist", "things to ask the doctor",
    "recipe tweaks for the chili", "podcast episode about sleep", "measurements for the new couch",
    "passport expires next spring", "names for the new puppy", "restaurant to try downtown",
    "password hint is the first pet", "bike lock code starts with four", "movies to watch this winter",
    "budget goals for next month", "workout plan for the week", "warranty ends in June",
    "call the insurance about the claim", "birthday party supplies", "plants that need shade",
    "the parking spot is level three", "ideas for the blog", "grocery list for Sunday",
    "song lyrics I was stuck on", "topics for the team retro", "things to fix in the bathroom",
    "the babysitter's rates", "conference talk notes", "questions for the mechanic",
    "house numbers of the new neighbors", "toast for the wedding", "camping gear to borrow",
    "shoe size is 42", "the locker combination", "things I am grateful for", "quotes from the book club",
    "vaccination dates for the cat", "colors for the nursery",
)

SONGS = (
    "Midnight Harbor", "Paper Lanterns", "Golden Hour Drive", "Rain on the Tin Roof", "Neon Orchard",
    "Slow River", "Summer of Static", "Glass Mountains", "Velvet Morning", "Northern Lights Parade",
    "Coffee and Cigarettes Blues", "The Long Way Home", "Electric Meadow", "Salt and Honey",
    "Moonlight Arcade", "Falling Upward", "Wildflower Radio", "City of Echoes", "Blue Bicycle",
    "Silver Linings Waltz", "Ocean Avenue Nights", "Dancing in the Kitchen", "Autumn Telegram",
    "Firefly Season", "Lost in Lisbon", "Highway Lullaby", "Cardboard Crown", "Starlit Diner",
    "Winter Garden", "Echoes of June", "Thunder in the Valley", "Lemonade Sky", "Quiet Storm Rising",
    "Kaleidoscope Heart", "Porch Light", "Marigold", "Satellite Serenade", "Ember and Ash",
    "Two Left Feet", "Sunday Crossword", "Harbor Bells", "Chasing Comets", "The Last Tram",
    "Orange Grove", "Sleepwalker's Tango",
)

APPS = (
    "Google Maps", "Apple Music", "Spotify", "WhatsApp", "Gmail", "YouTube", "Netflix", "Slack", "Zoom",
    "Duolingo", "Strava", "Uber", "Kindle", "Audible", "Instagram", "Shazam", "Dropbox", "Google Drive",
    "Microsoft Teams", "Signal", "Telegram", "Waze", "Airbnb", "Pinterest", "Headspace", "Evernote",
    "Outlook", "Trello", "Notion", "Venmo", "PayPal", "TikTok", "Reddit", "LinkedIn", "Snapchat",
    "Discord", "Twitch", "SoundCloud", "Lyft", "DoorDash", "Citymapper", "Todoist", "MyFitnessPal",
    "Google Photos", "Google Calendar", "Apple Maps", "Firefox", "Chrome",
)

SHARED_POOLS = {
    "message": MESSAGES,
    "note": NOTES,
    "song": SONGS,
    "app": APPS,
}

ENTITY_POOLS = {
    "person": PERSONS,
    "city": CITIES,
    "place": PLACES,
    "email": EMAILS,
    "phone": PHONES,
}

# Kinds whose values are free text: the generator checks that no held-out one
# is ever written into a train query.
TEXT_KINDS = tuple(ENTITY_POOLS)

# --------------------------------------------------------------------------- synthetic values

# Train records may carry invented text values instead of pool values, so that a model cannot get
# a value right by recalling one of the few dozen it has seen: it has to copy it from the query.
# Test values stay real (the held-out pool values), so the split still measures generalisation.

_ONSETS = ("b", "br", "c", "ch", "d", "dr", "f", "g", "gr", "h", "j", "k", "kl", "l", "m", "n", "p", "pr",
           "r", "s", "sh", "st", "t", "tr", "v", "w", "y", "z")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "ou", "y")
_CODAS = ("", "", "", "n", "r", "l", "s", "m", "nd", "rk", "st", "x")
_STREETS = ("Street", "Avenue", "Lane", "Road", "Court", "Drive", "Way", "Boulevard")
_VENUES = ("Park", "Station", "Cafe", "Library", "Clinic", "Mall", "Plaza", "Hall", "Market", "Square",
           "Gardens", "Stadium", "Pier", "Bakery", "Hotel", "School")
_MAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example", "example.co")


def invented_word(rng, syllables=None):
    """A pronounceable word that is in no pool ("Brelmo"), lower case."""
    count = syllables or rng.choice((1, 2, 2, 3))
    return "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(count))


def _invented_name(rng):
    return invented_word(rng, rng.choice((2, 2, 3))).capitalize()


def synthetic_value(spec, rng, vocabulary):
    """An invented value for a free-text kind; `vocabulary` holds real words for phrase pools."""
    if spec == "person":
        first = _invented_name(rng)
        return f"{first} {_invented_name(rng)}" if rng.random() < 0.5 else first
    if spec == "city":
        return _invented_name(rng) + (f" {_invented_name(rng)}" if rng.random() < 0.2 else "")
    if spec == "place":
        form = rng.randrange(3)
        if form == 0:
            return f"{rng.randint(1, 999)} {_invented_name(rng)} {rng.choice(_STREETS)}"
        venue = f"{_invented_name(rng)} {rng.choice(_VENUES)}"
        return f"the {venue}" if form == 1 and rng.random() < 0.3 else venue
    if spec == "email":
        local = invented_word(rng) + (f".{invented_word(rng, 1)}" if rng.random() < 0.5 else "")
        return f"{local}@{rng.choice(_MAIL_DOMAINS)}"
    if spec == "phone":
        # Pool numbers are 555-0100..555-0199; invented ones stay outside that block.
        return f"555-{rng.randint(200, 9999):04d}"
    if spec == "text:app":
        return _invented_name(rng)
    # A phrase pool (labels, messages, notes, titles): real words in a new order, some invented.
    words_ = [invented_word(rng) if rng.random() < 0.25 else rng.choice(vocabulary)
              for _ in range(rng.randint(1, 4))]
    return " ".join(words_)


# --------------------------------------------------------------------------- query framing

# "{q}" alone is always allowed; these add a natural frame around the request.
# Any sentence fits these.
WRAPPERS = (
    "hey, {q}", "{q} please", "{q}, thanks", "ok, {q}", "{q}, thank you", "hi there, {q}",
    "quick one: {q}", "hey assistant, {q}", "so, {q}", "{q}, if you can", "alright, {q}",
    "um, {q}", "{q}, thanks a lot", "hello, {q}", "right, {q}", "{q}, cheers", "excuse me, {q}",
    "{q} when you get a chance", "okay so {q}", "one thing: {q}",
)
# These only fit a request that starts with a verb ("set a timer ...").
VERB_WRAPPERS = (
    "could you {q}", "can you {q}", "please {q}", "would you {q}", "I'd like you to {q}",
    "I want you to {q}", "can you please {q}", "go ahead and {q}", "I need you to {q}",
    "would you kindly {q}", "be a dear and {q}", "could you quickly {q}", "just {q}",
    "mind helping me {q}",
)

# Words a request may start with for VERB_WRAPPERS to fit.
IMPERATIVE_VERBS = frozenset("""
add adjust arm book bring call cancel change check clean clear close count create delete disable dim
disarm dock download drop email enable end find fly follow get give hang hold increase decrease launch
let list load lock log look make mark mute navigate note open order pause pay ping play post print put
queue raise read record reduce remind remove rename reorder repeat replace request reschedule reset
resume return rewind run save schedule search send set share show shuffle skip snooze start stop
switch take tell text track transfer translate turn unlock unmute update upload use view wake water
feed walk log calibrate brew preheat defrost boil bake grind plan quiz review practice draft export
import invite join leave move mow fertilize prune sync book renew sign pair unpair connect disconnect
charge cool heat warm toggle restart reboot format scan estimate calculate convert split rate rsvp
""".split())

# Joining two requests in one query (multi examples).
JOINERS = (
    "{a} and {b}", "{a}, then {b}", "{a}. Also, {b}", "{a}, and after that {b}", "{a} and also {b}",
    "{a}; {b}", "{a}. Then {b}", "first {a}, then {b}", "{a}, plus {b}", "{a}. One more thing: {b}",
    "{a}, and while you're at it, {b}", "{a}. And {b}",
)

FILLERS = ("um", "uh", "er", "hmm", "like", "you know", "well", "uhh", "so", "I mean", "erm", "ah")

# A self-correction: the first value is said, then replaced.
CORRECTIONS = (
    "{wrong}, no wait, {right}", "{wrong}, sorry, I mean {right}", "{wrong}... actually make that {right}",
    "{wrong}, no, {right}", "{wrong}, I mean {right}", "{wrong}, wait, no, {right}",
    "{wrong}, scratch that, {right}", "{wrong}, or rather {right}", "{wrong}, uh, correction, {right}",
    "{wrong}, hold on, make it {right}", "{wrong}, oops, {right}", "{wrong}, let me rephrase, {right}",
)

# A false start: the first words are said twice.
RESTARTS = ("{head}, uh, {full}", "{head}-- {full}", "{head}, sorry, {full}", "{head}... {full}",
            "{head}, um, let me start over, {full}")


def split_phrases(phrases):
    """(train, held_out) of a list of framing phrases."""
    return split_by_hash(phrases, lambda p: "phrase|" + p)


# --------------------------------------------------------------------------- spoken numbers and times

HOUR_WORDS = ("twelve", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
              "eleven", "twelve")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def ordinal(n):
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return str(n) + {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def format_decimal(value, places):
    """A number as digits, without a trailing ".0"."""
    text = f"{value:.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def json_number(value, places=2):
    """The call's value: an int when whole, else a float rounded to the step's places."""
    rounded = round(value, places)
    if rounded == int(rounded):
        return int(rounded)
    return rounded


def spoken_duration(minutes):
    forms = []
    if minutes == 1:
        forms += ["1 minute", "a minute", "one minute"]
    else:
        forms += [f"{minutes} minutes", f"{minutes} min"]
    hours, rest = divmod(minutes, 60)
    if minutes == 15:
        forms.append("a quarter of an hour")
    if minutes == 30:
        forms += ["half an hour", "30 mins"]
    if minutes == 45:
        forms.append("three quarters of an hour")
    if hours and rest == 0:
        forms += ["an hour", "1 hour", "one hour"] if hours == 1 else [f"{hours} hours"]
    elif hours and rest == 30:
        forms += ["an hour and a half", "1.5 hours"] if hours == 1 else [f"{hours} and a half hours",
                                                                          f"{hours}.5 hours"]
    elif hours:
        hour_text = "1 hour" if hours == 1 else f"{hours} hours"
        forms.append(f"{hour_text} and {rest} minutes" if rest > 1 else f"{hour_text} and 1 minute")
    return forms


def spoken_time(value):
    hour, minute = int(value[:2]), int(value[3:])
    h12 = hour % 12 or 12
    am = hour < 12
    suffix = "am" if am else "pm"
    dotted = "a.m." if am else "p.m."
    if 5 <= hour < 12:
        part = "in the morning"
    elif 12 <= hour < 17:
        part = "in the afternoon"
    elif 17 <= hour < 21:
        part = "in the evening"
    else:
        part = "at night"
    clock = f"{h12}" if minute == 0 else f"{h12}:{minute:02d}"
    forms = [f"{clock} {suffix}", f"{clock}{suffix}", f"{clock} {dotted}", f"{hour:02d}:{minute:02d}"]
    if hour >= 13:
        forms.append(f"{hour}:{minute:02d}")
    if hour not in (0, 12) and not (1 <= hour <= 4):
        forms.append(f"{clock} {part}")
    word = HOUR_WORDS[h12]
    if hour not in (0, 12) and not (1 <= hour <= 4):
        if minute == 0:
            forms.append(f"{word} o'clock {part}")
        elif minute == 30:
            forms.append(f"half past {word} {part}")
        elif minute == 15:
            forms.append(f"quarter past {word} {part}")
        elif minute == 45 and hour not in (11, 23):
            forms.append(f"quarter to {HOUR_WORDS[h12 % 12 + 1]} {part}")
    if value == "12:00":
        forms += ["noon", "midday", "12 noon"]
    if value == "00:00":
        forms += ["midnight", "12 midnight"]
    return forms


def spoken_date(value):
    day = datetime.date.fromisoformat(value)
    month = MONTHS[day.month - 1]
    return [f"{month} {day.day}, {day.year}", f"{day.day} {month} {day.year}", value,
            f"{month} {ordinal(day.day)}, {day.year}", f"the {ordinal(day.day)} of {month} {day.year}"]


def spoken_percent(value):
    forms = [f"{value} percent", f"{value}%"]
    forms += {25: ["a quarter"], 50: ["half"], 75: ["three quarters"], 100: ["full"]}.get(value, [])
    return forms


def spoken_money(value):
    dollars = int(value)
    cents = round((value - dollars) * 100)
    if cents == 0:
        return [f"${dollars}", f"{dollars} dollars", f"${dollars}.00"] if dollars != 1 else ["$1", "one dollar"]
    return [f"${dollars}.{cents:02d}", f"{dollars}.{cents:02d} dollars", f"{dollars} dollars and {cents} cents"]


def spoken_mass(grams):
    forms = [f"{grams} grams", f"{grams} g", f"{grams}g"]
    if grams == 500:
        forms.append("half a kilo")
    if grams % 1000 == 0:
        kilos = grams // 1000
        forms += ["a kilo", "1 kilogram", "1 kg"] if kilos == 1 else [f"{kilos} kilos", f"{kilos} kg",
                                                                       f"{kilos} kilograms"]
    elif grams > 1000 and grams % 100 == 0:
        kilos = format_decimal(grams / 1000, 1)
        forms += [f"{kilos} kg", f"{kilos} kilos"]
    return forms


def spoken_volume(ml):
    forms = [f"{ml} ml", f"{ml} milliliters", f"{ml} millilitres"]
    if ml == 500:
        forms.append("half a liter")
    if ml == 250:
        forms.append("a quarter liter")
    if ml % 1000 == 0:
        liters = ml // 1000
        forms += ["a liter", "1 liter", "one litre"] if liters == 1 else [f"{liters} liters", f"{liters} litres",
                                                                           f"{liters} l"]
    elif ml > 1000 and ml % 100 == 0:
        liters = format_decimal(ml / 1000, 1)
        forms += [f"{liters} liters", f"{liters} l"]
    return forms


def spoken_day(value):
    if value in ("today", "tomorrow"):
        return [value]
    return [value.capitalize(), value]


# --------------------------------------------------------------------------- kinds


class Kind:
    """A kind bound to one parameter: its values, their split, and how each is spoken.

    `values` is the full ordered list of canonical values (or None for a range
    too big to enumerate, which uses `draw_value`); `held_out_values` a subset.
    """

    json_type = "string"  # the Param.type this kind requires
    has_held_out = True

    def __init__(self, spec):
        self.spec = spec
        self.values = None
        self.held_out = frozenset()

    def set_values(self, values, key=None):
        key = key or (lambda v: f"{self.spec}|{v}")
        self.values = list(values)
        _, held = split_by_hash(self.values, key) if self.has_held_out else (self.values, [])
        self.held_out = frozenset(held)

    def pool(self, held_out):
        """Values a split draws from: train never sees held-out values; test sees only them."""
        if not self.held_out:
            return self.values
        return [v for v in self.values if (v in self.held_out) == held_out]

    def draw(self, rng, held_out):
        return rng.choice(self.pool(held_out))

    def is_held_out(self, value):
        return value in self.held_out

    def spoken(self, value):
        return [str(value)]


class ListKind(Kind):
    def __init__(self, spec, values, spoken_fn=None, json_type="string", key=None):
        super().__init__(spec)
        self.json_type = json_type
        self._spoken = spoken_fn
        self.set_values(values, key)

    def spoken(self, value):
        return self._spoken(value) if self._spoken else [str(value)]


class RangeKind(Kind):
    """int:LO:HI and number:LO:HI:STEP. Big ranges are split by a hash threshold."""

    def __init__(self, spec, lo, hi, step, places, json_type):
        super().__init__(spec)
        self.json_type = json_type
        self.lo, self.step, self.places = lo, step, places
        self.count = int(round((hi - lo) / step)) + 1
        if self.count <= ENUMERATE_LIMIT:
            self.set_values([self._value(i) for i in range(self.count)])

    def _value(self, index):
        if self.json_type == "integer":
            return int(self.lo + index * self.step)
        return json_number(self.lo + index * self.step, self.places)

    def _hashed_out(self, value):
        return stable_hash(f"{self.spec}|{value}") % 1000 < HELD_OUT_FRACTION * 1000

    def draw(self, rng, held_out):
        if self.values is not None:
            return super().draw(rng, held_out)
        while True:
            value = self._value(rng.randrange(self.count))
            if self._hashed_out(value) == held_out:
                return value

    def is_held_out(self, value):
        return value in self.held_out if self.values is not None else self._hashed_out(value)

    def spoken(self, value):
        if self.json_type == "integer":
            return [str(value)]
        return [format_decimal(value, self.places)]


class EnumKind(Kind):
    """Enum values are part of the tool's schema, so none is held out."""

    has_held_out = False

    def __init__(self, spec, param):
        super().__init__(spec)
        self.json_type = param.type
        self.surfaces = param.surfaces
        self.set_values(param.enum)

    def spoken(self, value):
        forms = [str(value).replace("_", " ")]
        return forms + list(self.surfaces.get(value, ())) + list(self.surfaces.get(str(value), ()))


class BoolKind(Kind):
    has_held_out = False
    json_type = "boolean"

    def __init__(self, spec, param):
        super().__init__(spec)
        self.surfaces = param.surfaces
        self.set_values([True, False])

    def spoken(self, value):
        return list(self.surfaces["true" if value else "false"])


def _time_values():
    return [f"{h:02d}:{m:02d}" for h in range(24) for m in range(0, 60, 5)]


def _date_values():
    start = datetime.date(2026, 1, 1)
    return [(start + datetime.timedelta(days=i)).isoformat() for i in range(730)]


def _duration_values():
    return list(range(1, 121)) + list(range(135, 481, 15))


def _money_values():
    return [json_number(d + c) for d in range(1, 301) for c in (0, 0.5, 0.99, 0.25)]


def _mass_values():
    return list(range(10, 101, 10)) + list(range(125, 1001, 25)) + list(range(1250, 5001, 250))


# Param.type each fixed kind requires; enum is checked against its values.
KIND_TYPES = {
    "person": "string", "city": "string", "place": "string", "email": "string", "phone": "string",
    "day": "string", "date": "string", "time": "string", "duration_min": "integer", "int": "integer",
    "number": "number", "percent": "integer", "money": "number", "grams": "integer", "ml": "integer",
    "text": "string", "bool": "boolean",
}
KINDS = tuple(KIND_TYPES) + ("enum",)


class KindError(ValueError):
    pass


def _fixed_kind(spec):
    if spec in ENTITY_POOLS:
        return ListKind(spec, ENTITY_POOLS[spec], key=text_key)
    if spec == "day":
        return ListKind(spec, WEEKDAYS + ("today", "tomorrow"), spoken_day)
    if spec == "date":
        return ListKind(spec, _date_values(), spoken_date)
    if spec == "time":
        return ListKind(spec, _time_values(), spoken_time)
    if spec == "duration_min":
        return ListKind(spec, _duration_values(), spoken_duration, "integer")
    if spec == "percent":
        return ListKind(spec, list(range(1, 101)), spoken_percent, "integer")
    if spec == "money":
        return ListKind(spec, _money_values(), spoken_money, "number")
    if spec == "grams":
        return ListKind(spec, _mass_values(), spoken_mass, "integer")
    if spec == "ml":
        return ListKind(spec, _mass_values(), spoken_volume, "integer")
    return None


def _places(text):
    return len(text.split(".")[1]) if "." in text else 0


def parse_range(spec):
    """(lo, hi, step, places, json_type) of "int:LO:HI" or "number:LO:HI:STEP"."""
    parts = spec.split(":")
    try:
        if parts[0] == "int" and len(parts) == 3:
            lo, hi = int(parts[1]), int(parts[2])
            step, places, json_type = 1, 0, "integer"
        elif parts[0] == "number" and len(parts) == 4:
            lo, hi, step = float(parts[1]), float(parts[2]), float(parts[3])
            places = max(_places(parts[1]), _places(parts[3]))
            json_type = "number"
        else:
            raise ValueError
    except ValueError:
        raise KindError(f'kind "{spec}" is not int:LO:HI (integers) or number:LO:HI:STEP') from None
    if step <= 0 or hi <= lo:
        raise KindError(f'kind "{spec}": needs LO < HI and STEP > 0')
    return lo, hi, step, places, json_type


def make_kind(param, module_pools):
    """The Kind for a parameter, or KindError saying why the parameter's kind is unusable."""
    spec = param.kind
    fixed = _fixed_kind(spec)
    if fixed is not None:
        return fixed
    family = spec.split(":")[0]
    if family in ("int", "number"):
        return RangeKind(spec, *parse_range(spec))
    if family == "text":
        name = spec[len("text:"):]
        if name in module_pools:
            values = module_pools[name]
        elif name in SHARED_POOLS:
            values = SHARED_POOLS[name]
        else:
            raise KindError(f'kind "{spec}": no pool "{name}" in the module\'s POOLS '
                            f'(keys: {", ".join(sorted(module_pools)) or "none"}) nor shared '
                            f'({", ".join(sorted(SHARED_POOLS))})')
        if isinstance(values, str) or not all(isinstance(v, str) and v.strip() for v in values):
            raise KindError(f'kind "{spec}": the pool must be a tuple of non-empty strings')
        if len(set(values)) < 20:
            raise KindError(f'kind "{spec}": pool has {len(set(values))} distinct values, needs at least 20')
        return ListKind(spec, sorted(set(values)), key=text_key)
    if spec == "enum":
        if not param.enum:
            raise KindError('kind "enum" needs Param.enum')
        return EnumKind(spec, param)
    if spec == "bool":
        for side in ("true", "false"):
            phrases = param.surfaces.get(side)
            if not phrases or isinstance(phrases, str):
                raise KindError(f'kind "bool" needs Param.surfaces["{side}"]: a tuple of phrases')
        return BoolKind(spec, param)
    raise KindError(f'unknown kind "{spec}" (known: {", ".join(KINDS)}, int:LO:HI, number:LO:HI:STEP, '
                    f'text:POOL)')


def value_matches_type(value, json_type):
    if json_type == "boolean":
        return isinstance(value, bool)
    if json_type == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if json_type == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, str)

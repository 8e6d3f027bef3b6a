"""Gardening and plant care: watering, irrigation, sowing, pests, harvests, greenhouse."""

from ..schema import Param, Tool

CATEGORY = "gardening"
TITLE = "Gardening and plant care"

POOLS = {
    # Singular or mass nouns, so "my {plant}" and "the {plant}" both read well.
    "plant": ("basil", "monstera", "fiddle leaf fig", "snake plant", "peace lily", "pothos", "rosemary",
              "orchid", "aloe vera", "lemon tree", "jade plant", "rubber plant", "spider plant",
              "hydrangea", "lavender", "mint", "bird of paradise", "ZZ plant", "Boston fern", "bonsai",
              "calathea", "olive tree", "string of pearls", "philodendron", "Christmas cactus"),
    "garden_zone": ("front lawn", "back lawn", "vegetable bed", "herb garden", "flower border", "greenhouse",
                    "patio pots", "rose bed", "side yard", "balcony planters", "raised bed", "orchard",
                    "hedge row", "hanging baskets", "strawberry patch", "shade garden", "rock garden",
                    "window boxes", "berry bushes", "courtyard", "pumpkin patch", "fruit trees"),
    "crop": ("carrots", "zucchini", "sunflowers", "lettuce", "radishes", "peas", "spinach", "kale", "beets",
             "green beans", "cucumbers", "pumpkins", "marigolds", "zinnias", "cilantro", "dill",
             "butternut squash", "sweet corn", "snapdragons", "cosmos", "Swiss chard", "arugula", "onions",
             "garlic", "tomatoes", "bell peppers", "potatoes", "strawberries"),
    "pest": ("aphids", "spider mites", "powdery mildew", "fungus gnats", "slugs", "whiteflies", "mealybugs",
             "scale insects", "thrips", "caterpillars", "Japanese beetles", "black spot", "root rot",
             "leaf miners", "snails", "tomato blight", "leaf rust", "cabbage worms", "squash bugs", "earwigs",
             "sooty mold", "vine weevils", "flea beetles"),
}

_CARE_TASK = Param(
    "task", "string", "The care task to be reminded about.", "enum",
    enum=("fertilize", "repot", "prune", "mist", "rotate", "dust"),
    surfaces={"fertilize": ("feed", "fertilise"), "prune": ("trim", "cut back"), "mist": ("spray",),
              "rotate": ("turn",), "dust": ("wipe the leaves of", "clean the leaves of")},
)

TOOLS = (
    Tool(
        name="water_plant",
        description="Water one houseplant through its connected self-watering pot or drip emitter.",
        params=(
            Param("plant", "string", "Name of the plant as saved in the plant app.", "text:plant"),
            Param("amount_ml", "integer", "Optional amount of water in millilitres; the pot's default dose "
                  "when omitted.", "ml", required=False),
        ),
        templates=(
            "water the {plant}",
            "give my {plant} some water",
            "can you water the {plant} now",
            "give the {plant} {amount_ml} of water",
            "water my {plant} with {amount_ml}",
            "please run the drip on the {plant}",
            "I want the {plant} watered, {amount_ml} should do",
            "time to water the {plant}, go ahead",
        ),
        indirect=(
            "the soil in the {plant} pot is bone dry",
            "my {plant} is drooping and I'm not home to water it",
            "I forgot the {plant} all week, it probably needs about {amount_ml}",
        ),
        near_miss=("start_sprinkler_zone", "check_soil_moisture"),
    ),
    Tool(
        name="start_sprinkler_zone",
        description="Run the garden irrigation sprinklers on one zone right now.",
        params=(
            Param("zone", "string", "The irrigation zone to run.", "text:garden_zone"),
            Param("duration_minutes", "integer", "Optional run time in minutes; the zone's default when "
                  "omitted.", "duration_min", required=False),
        ),
        templates=(
            "turn on the sprinklers for the {zone}",
            "run the {zone} sprinklers for {duration_minutes}",
            "start irrigation on the {zone}",
            "water the {zone} for {duration_minutes}",
            "can you get the sprinklers going on the {zone}",
            "I'd like the {zone} zone watered now",
            "run zone {zone} for {duration_minutes} please",
            "kick on the irrigation in the {zone}",
        ),
        indirect=(
            "everything in the {zone} is brown and crispy today",
            "it's been a scorcher, the {zone} could use {duration_minutes} of water",
        ),
        near_miss=("set_watering_schedule", "water_plant"),
    ),
    Tool(
        name="set_watering_schedule",
        description="Create a recurring irrigation schedule for a garden zone.",
        params=(
            Param("zone", "string", "The irrigation zone the schedule applies to.", "text:garden_zone"),
            Param("start_time", "string", "Time of day the watering starts, 24-hour HH:MM.", "time"),
            Param("frequency", "string", "How often to water.", "enum",
                  enum=("daily", "every_other_day", "twice_weekly", "weekly"),
                  surfaces={"daily": ("every day", "each day"), "twice_weekly": ("twice a week",),
                            "weekly": ("once a week", "every week")}),
            Param("skip_if_rain", "boolean", "Whether to skip a run when rain is forecast.", "bool",
                  required=False,
                  surfaces={"true": ("but skip it when it rains", "unless rain is forecast"),
                            "false": ("rain or shine", "even if it rains")}),
        ),
        templates=(
            "water the {zone} {frequency} at {start_time}",
            "schedule the {zone} sprinklers {frequency} at {start_time} {skip_if_rain}",
            "set up a watering schedule for the {zone}: {frequency}, starting at {start_time}",
            "I want the {zone} watered {frequency} at {start_time}",
            "program irrigation on the {zone} to run at {start_time} {frequency}",
            "can you make the {zone} water itself {frequency} at {start_time} {skip_if_rain}",
            "new schedule please, {zone}, {frequency}, {start_time}",
            "water the {zone} at {start_time}, {frequency}",
        ),
        indirect=(
            "I'm away all summer and the {zone} needs water {frequency}, early at {start_time} is best",
            "I keep forgetting the {zone}; it should get water {frequency} around {start_time} {skip_if_rain}",
        ),
        near_miss=("start_sprinkler_zone", "set_plant_care_reminder"),
    ),
    Tool(
        name="check_soil_moisture",
        description="Read the current soil moisture from the sensor in a plant's pot.",
        params=(
            Param("plant", "string", "The plant whose sensor to read.", "text:plant"),
        ),
        templates=(
            "how wet is the soil in my {plant}",
            "check the moisture on the {plant}",
            "what's the soil moisture reading for the {plant}",
            "is the {plant} dry",
            "read the moisture sensor in the {plant} pot",
            "does my {plant} need water, check the sensor",
            "I'd like a moisture check on the {plant}",
        ),
        indirect=(
            "I can't tell if I overwatered the {plant} or not",
            "the {plant} leaves are curling, I wonder whether the soil is soggy",
        ),
        near_miss=("water_plant",),
    ),
    Tool(
        name="set_plant_care_reminder",
        description="Create a recurring reminder for a plant care task such as fertilizing or repotting.",
        params=(
            Param("plant", "string", "The plant the reminder is for.", "text:plant"),
            _CARE_TASK,
            Param("every_days", "integer", "Optional repeat interval in days; a sensible default per task "
                  "when omitted.", "int:2:90", required=False),
        ),
        templates=(
            "remind me to {task} the {plant}",
            "set a reminder to {task} my {plant} every {every_days} days",
            "I need a nudge to {task} the {plant}",
            "add a plant care reminder: {task} the {plant}",
            "every {every_days} days remind me to {task} the {plant}",
            "can you remind me when it's time to {task} my {plant}",
            "make a recurring reminder to {task} the {plant} every {every_days} days",
            "don't let me forget to {task} the {plant}",
        ),
        indirect=(
            "my {plant} looks tired, I really should {task} it more regularly",
            "the nursery said to {task} the {plant} every {every_days} days but I never remember",
        ),
        near_miss=("create_reminder", "set_watering_schedule"),
    ),
    Tool(
        name="log_pest_sighting",
        description="Record a pest or disease spotted in the garden and get treatment suggestions.",
        params=(
            Param("pest", "string", "The pest or disease seen.", "text:pest"),
            Param("location", "string", "Optional garden zone where it was seen.", "text:garden_zone",
                  required=False),
            Param("severity", "string", "Optional estimate of how bad the infestation is.", "enum",
                  required=False, enum=("light", "moderate", "severe"),
                  surfaces={"light": ("mild", "minor"), "moderate": ("medium",),
                            "severe": ("bad", "serious", "heavy")}),
        ),
        templates=(
            "log {pest} in the garden",
            "I found {pest} on the {location}",
            "record a pest sighting: {pest}",
            "note a {severity} outbreak of {pest} in the {location}",
            "add {pest} to my garden pest log",
            "log a {severity} infestation of {pest}",
            "note that the {location} has {pest}",
            "can you record {pest} for the {location} and tell me how to treat it",
        ),
        indirect=(
            "ugh, the {location} is covered in {pest} again",
            "something's eating my plants, pretty sure it's {pest}",
        ),
        near_miss=("set_plant_care_reminder",),
    ),
    Tool(
        name="get_planting_calendar",
        description="Look up when to sow, transplant and harvest a crop for the local frost dates.",
        params=(
            Param("crop", "string", "The vegetable, herb or flower to look up.", "text:crop"),
            Param("start_indoors", "boolean", "Optional: true for indoor seed-starting dates, false for "
                  "direct sowing outside.", "bool", required=False,
                  surfaces={"true": ("indoors", "inside under lights"),
                            "false": ("outdoors", "straight in the ground")}),
        ),
        templates=(
            "when should I plant {crop}",
            "when do I sow {crop} {start_indoors}",
            "planting dates for {crop}",
            "what's the best time to start {crop} {start_indoors}",
            "show me the growing calendar for {crop}",
            "is it too late to plant {crop} this year",
            "look up sowing times for {crop}",
            "tell me when to start {crop} {start_indoors} around here",
        ),
        indirect=(
            "I just bought a packet of {crop} seeds and have no idea when they go in",
            "thinking about growing {crop} {start_indoors} this season, what's the timing",
        ),
        near_miss=("log_harvest",),
    ),
    Tool(
        name="log_harvest",
        description="Record a harvest in the garden journal with its weight.",
        params=(
            Param("crop", "string", "What was harvested.", "text:crop"),
            Param("weight_grams", "integer", "Weight harvested, in grams.", "grams"),
            Param("bed", "string", "Optional garden zone it came from.", "text:garden_zone", required=False),
        ),
        templates=(
            "log {weight_grams} of {crop}",
            "I harvested {weight_grams} of {crop} today",
            "record a harvest: {crop}, {weight_grams}",
            "add {weight_grams} of {crop} from the {bed} to my garden journal",
            "just picked {weight_grams} of {crop}, log it",
            "note {weight_grams} of {crop} harvested from the {bed}",
            "harvest log: {crop}, {weight_grams}",
            "can you log today's {crop}, it came to {weight_grams}",
        ),
        indirect=(
            "the {bed} gave us {weight_grams} of {crop} this morning, best week yet",
            "weighed the {crop} basket and it's {weight_grams}, I want to keep track of that",
        ),
        near_miss=("get_planting_calendar",),
    ),
    Tool(
        name="set_grow_light",
        description="Set the daily on-time and brightness of the indoor plant grow lights.",
        params=(
            Param("hours_per_day", "integer", "How many hours a day the grow light stays on.", "int:6:18"),
            Param("brightness_percent", "integer", "Optional light intensity, 0-100.", "percent",
                  required=False),
        ),
        templates=(
            "set the grow light to {hours_per_day} hours a day",
            "run the grow lights {hours_per_day} hours daily at {brightness_percent}",
            "change the grow lamp schedule to {hours_per_day} hours",
            "I want my seedlings under the grow light for {hours_per_day} hours a day",
            "grow lights: {hours_per_day} hours, {brightness_percent} brightness",
            "can you give the plants {hours_per_day} hours of grow light each day",
            "make the grow light stay on {hours_per_day} hours and dim it to {brightness_percent}",
        ),
        indirect=(
            "my seedlings are getting leggy, I read they need {hours_per_day} hours of light",
            "the herbs on the shelf want about {hours_per_day} hours of light a day and they're not getting it",
        ),
        near_miss=("turn_on_lights",),
    ),
    Tool(
        name="set_greenhouse_temperature",
        description="Set the target temperature of the greenhouse heater and vent controller.",
        params=(
            Param("celsius", "integer", "Target air temperature in degrees Celsius.", "int:8:32"),
            Param("auto_vent", "boolean", "Optional: let the roof vents open automatically when it gets "
                  "too warm.", "bool", required=False,
                  surfaces={"true": ("with the vents on auto", "and let the vents open themselves"),
                            "false": ("with the vents kept shut", "and keep the vents closed")}),
        ),
        templates=(
            "set the greenhouse to {celsius} degrees",
            "keep the greenhouse at {celsius} degrees {auto_vent}",
            "greenhouse temperature {celsius} please",
            "can you warm the greenhouse up to {celsius} degrees",
            "I want the greenhouse held at {celsius} degrees Celsius",
            "change the greenhouse target to {celsius} {auto_vent}",
            "hold the greenhouse around {celsius} degrees overnight",
        ),
        indirect=(
            "frost tonight, the seedlings in the greenhouse need at least {celsius} degrees",
            "nights are getting cold, the greenhouse should stay at {celsius} degrees",
        ),
        near_miss=("set_thermostat",),
    ),
)

"""Sports and outdoor activities: courts, workouts, trails, teams, camping, tides, gear."""

from ..schema import Param, Tool

CATEGORY = "sports_outdoors"
TITLE = "Sports and outdoor activities"

POOLS = {
    "trail": ("Eagle Peak Loop", "Cedar Creek Trail", "Lost Lake Trail", "Bear Ridge Trail", "Mill Valley Loop",
              "Skyline Trail", "Pine Hollow Path", "Granite Falls Trail", "Redtail Ridge", "Coyote Canyon Trail",
              "Hidden Springs Loop", "Blue Heron Trail", "Thunder Mountain Trail", "Fox Hollow Loop",
              "Silver Lake Shoreline Trail", "Maple Grove Path", "Aspen Meadow Trail", "Devil's Backbone",
              "Raven Cliff Trail", "Sunset Bluff Trail", "Willow Creek Greenway", "Osprey Point Trail"),
    "facility": ("Riverside Tennis Center", "Oak Park Courts", "Downtown YMCA", "Lakeside Racquet Club",
                 "Central Rec Center", "Hillcrest Community Center", "Westside Sports Complex", "Marina Park",
                 "Elm Street Courts", "Northgate Athletic Club", "Sunnyvale Rec", "Harbor View Club",
                 "Meadowbrook Park", "University Sports Hall", "Greenfield Fitness", "Eastlake Courts",
                 "Pinecrest Country Club", "Civic Center Gym", "Bayside Courts", "Maplewood Rec Center"),
    # Names that take "the" ("did the Cubs win"), so one set of templates fits every team.
    "team": ("Chicago Cubs", "Portland Timbers", "Golden State Warriors", "Green Bay Packers", "Boston Red Sox",
             "New York Yankees", "Toronto Maple Leafs", "Seattle Sounders", "Philadelphia Eagles",
             "Dallas Cowboys", "Chicago Bulls", "Los Angeles Dodgers", "Pittsburgh Steelers", "Denver Nuggets",
             "Miami Heat", "Kansas City Chiefs", "Montreal Canadiens", "Vancouver Canucks", "Boston Celtics",
             "Seattle Seahawks", "Atlanta Braves", "New York Rangers", "Edmonton Oilers", "Houston Astros"),
    "campground": ("Big Pine Campground", "Crystal Lake Campground", "Bluebird Meadows", "Cougar Flats",
                   "Moonrise Bay Campground", "Juniper Springs", "Whispering Pines", "Elk Creek Campground",
                   "Sandy Point", "Hemlock Hollow", "Red Rock Canyon Campground", "Lakeview Camp",
                   "Driftwood Beach Campground", "Timberline Camp", "Quail Run", "Bear Paw Campground",
                   "Fern Gully Camp", "Starlight Ridge", "Otter Cove", "Silver Birch Campground"),
    # Coastal towns and beaches, so every value has tides worth asking about.
    "coast": ("Half Moon Bay", "Santa Cruz", "Cannon Beach", "Myrtle Beach", "Cape May", "Montauk", "Bar Harbor",
              "Malibu", "La Jolla", "Monterey", "Key West", "Brighton", "Bondi Beach", "Newport", "Galveston",
              "Hilton Head", "Pismo Beach", "Ocean City", "Virginia Beach", "St Ives", "Tofino", "Biarritz",
              "Provincetown", "Kailua"),
}

_ACTIVITY = Param(
    "activity", "string", "Type of workout.", "enum",
    enum=("running", "cycling", "swimming", "hiking", "rowing", "walking", "strength_training", "yoga"),
    surfaces={"running": ("jogging",), "cycling": ("biking",), "strength_training": ("weight lifting", "weights")},
)

TOOLS = (
    Tool(
        name="book_court",
        description="Reserve a sports court at a local facility for a day and time.",
        params=(
            Param("sport", "string", "The sport the court is for.", "enum",
                  enum=("tennis", "pickleball", "squash", "badminton", "basketball", "padel", "volleyball")),
            Param("day", "string", "Day of the booking.", "day"),
            Param("start_time", "string", "Start time, 24-hour HH:MM.", "time"),
            Param("facility", "string", "Optional facility; the user's home club when omitted.", "text:facility",
                  required=False),
        ),
        templates=(
            "book a {sport} court {day} at {start_time}",
            "reserve a {sport} court at {facility} for {day} at {start_time}",
            "can you get me a {sport} court {day}, {start_time}",
            "I want to play {sport} {day} at {start_time}, book a court",
            "grab a {sport} court at {facility} {day} {start_time}",
            "court booking: {sport}, {day}, {start_time}",
            "is there a {sport} court free {day} at {start_time}? book it",
            "please reserve {sport} at {facility}, {day} at {start_time}",
        ),
        indirect=(
            "my buddy and I want a {sport} match {day} around {start_time} but we need somewhere to play",
            "I promised my sister a game of {sport} at {facility} {day} at {start_time}",
        ),
        near_miss=("rent_outdoor_gear", "book_meeting_room"),
    ),
    Tool(
        name="log_workout",
        description="Add a finished workout to the fitness log.",
        params=(
            _ACTIVITY,
            Param("duration_minutes", "integer", "How long the workout lasted, in minutes.", "duration_min"),
            Param("distance_km", "number", "Optional distance covered, in kilometres.", "number:0.5:120:0.5",
                  required=False),
        ),
        templates=(
            "log {duration_minutes} of {activity}",
            "record {duration_minutes} of {activity}",
            "I just did {duration_minutes} of {activity}, {distance_km} kilometers",
            "add {activity} to my fitness log, {duration_minutes}",
            "log {duration_minutes} {activity}, distance {distance_km} km",
            "save a workout: {activity}, {duration_minutes}",
            "put {duration_minutes} of {activity} in my log",
            "track {duration_minutes} of {activity}, I covered {distance_km} km",
        ),
        indirect=(
            "phew, just got back from {duration_minutes} of {activity}, about {distance_km} kilometers",
            "forgot my watch today but I got in {duration_minutes} of {activity}",
        ),
        near_miss=("start_workout_tracking", "set_weekly_distance_goal"),
    ),
    Tool(
        name="start_workout_tracking",
        description="Start live GPS and heart-rate tracking for a workout that is beginning now.",
        params=(
            _ACTIVITY,
            Param("audio_cues", "boolean", "Optional: announce pace and distance through the headphones.",
                  "bool", required=False,
                  surfaces={"true": ("with voice updates", "with audio cues"),
                            "false": ("without voice updates", "silently")}),
        ),
        templates=(
            "start tracking my {activity}",
            "begin a {activity} workout {audio_cues}",
            "track my {activity} now",
            "start a {activity} session {audio_cues}",
            "I'm starting some {activity}, record it",
            "go, {activity} tracking on",
            "can you start the {activity} tracker",
            "record my {activity} session {audio_cues}",
        ),
        indirect=(
            "shoes are on, heading out for some {activity} right now",
            "about to start some {activity}, want the stats {audio_cues}",
        ),
        near_miss=("log_workout",),
    ),
    Tool(
        name="get_trail_conditions",
        description="Get recent conditions, closures and trip reports for a hiking trail.",
        params=(
            Param("trail", "string", "Name of the trail.", "text:trail"),
        ),
        templates=(
            "what are conditions like on {trail}",
            "is {trail} open",
            "check trail conditions for {trail}",
            "any recent reports on {trail}",
            "how muddy is {trail} right now",
            "tell me the latest on {trail}",
            "is {trail} snowed in or clear",
        ),
        indirect=(
            "thinking of hiking {trail} this weekend, hope it's not washed out",
            "my friends want to do {trail} but I heard there was a rockslide",
        ),
        near_miss=("get_tide_times",),
    ),
    Tool(
        name="get_team_score",
        description="Get the live or most recent game score for a sports team.",
        params=(
            Param("team", "string", "The team.", "text:team"),
        ),
        templates=(
            "what's the {team} score",
            "did the {team} win",
            "how are the {team} doing right now",
            "score of the {team} game",
            "who won, the {team} or the other guys",
            "give me the latest {team} result",
            "check the {team} game for me",
        ),
        indirect=(
            "I missed the {team} game because of work, ugh",
            "my dad keeps texting me about the {team}, I have no idea what happened",
        ),
        near_miss=("follow_team",),
    ),
    Tool(
        name="follow_team",
        description="Follow a sports team to get its schedule and game alerts in the sports app.",
        params=(
            Param("team", "string", "The team.", "text:team"),
            Param("score_alerts", "boolean", "Optional: push a notification on every score change.", "bool",
                  required=False,
                  surfaces={"true": ("with score alerts", "and ping me on every score"),
                            "false": ("without alerts", "but no notifications")}),
        ),
        templates=(
            "follow the {team}",
            "add the {team} to my teams {score_alerts}",
            "I want to follow the {team}",
            "start following the {team} {score_alerts}",
            "subscribe me to the {team}",
            "can you follow the {team} in the sports app",
            "put the {team} in my favorites {score_alerts}",
            "track the {team} this season",
        ),
        indirect=(
            "just moved here and everyone's into the {team}, I should keep up",
            "I never know when the {team} are playing, keep me posted {score_alerts}",
        ),
        near_miss=("get_team_score",),
    ),
    Tool(
        name="reserve_campsite",
        description="Reserve a campsite at a campground for a number of nights.",
        params=(
            Param("campground", "string", "Name of the campground.", "text:campground"),
            Param("arrival_date", "string", "Check-in date, YYYY-MM-DD.", "date"),
            Param("nights", "integer", "Number of nights.", "int:2:14"),
            Param("campers", "integer", "Optional number of people staying.", "int:2:8", required=False),
        ),
        templates=(
            "reserve a campsite at {campground} on {arrival_date} for {nights} nights",
            "book {campground} for {nights} nights from {arrival_date}",
            "get us a site at {campground}, {nights} nights, arriving {arrival_date}",
            "I need a campsite at {campground} for {campers} people, {nights} nights from {arrival_date}",
            "can you book camping at {campground} starting {arrival_date}, {nights} nights",
            "campsite for {nights} nights at {campground}, check in {arrival_date}",
            "reserve {nights} nights at {campground} beginning {arrival_date} for {campers} of us",
            "please hold a spot at {campground} on {arrival_date} for {nights} nights",
        ),
        indirect=(
            "the {campers} of us want to sleep under the stars at {campground} for {nights} nights from "
            "{arrival_date}",
            "we're driving up to {campground} on {arrival_date} and staying {nights} nights, need a spot to "
            "pitch the tent",
        ),
        near_miss=("get_trail_conditions",),
    ),
    Tool(
        name="get_tide_times",
        description="Get high and low tide times for a beach or coastal town.",
        params=(
            Param("spot", "string", "Beach or coastal town.", "text:coast"),
            Param("day", "string", "Optional day; today when omitted.", "day", required=False),
        ),
        templates=(
            "tide times for {spot}",
            "when's high tide in {spot} {day}",
            "what are the tides doing in {spot}",
            "check low tide in {spot} for {day}",
            "give me the tide chart for {spot}",
            "when is the tide out in {spot} {day}",
            "can you look up tides in {spot}",
            "high and low tide for {spot}, {day}",
        ),
        indirect=(
            "want to go tide pooling in {spot} {day}, when's the water lowest",
            "we're launching the kayaks at {spot}, don't want to fight the tide",
        ),
        near_miss=("get_trail_conditions",),
    ),
    Tool(
        name="set_weekly_distance_goal",
        description="Set a weekly distance target for running, cycling or swimming in the fitness app.",
        params=(
            Param("activity", "string", "Sport the goal is for.", "enum",
                  enum=("running", "cycling", "swimming"),
                  surfaces={"running": ("jogging",), "cycling": ("biking",)}),
            Param("kilometers", "integer", "Target distance per week, in kilometres.", "int:5:150"),
        ),
        templates=(
            "set my weekly {activity} goal to {kilometers} km",
            "I want to do {kilometers} kilometers of {activity} a week",
            "change my {activity} target to {kilometers} kilometers per week",
            "weekly goal: {kilometers} km of {activity}",
            "aim for {kilometers} km of {activity} each week",
            "can you set a {activity} goal of {kilometers} kilometers weekly",
            "make my {activity} distance goal {kilometers} km",
        ),
        indirect=(
            "training for a race, I should be doing {kilometers} km of {activity} every week",
            "my coach says {kilometers} kilometers of {activity} per week, hold me to it",
        ),
        near_miss=("log_workout",),
    ),
    Tool(
        name="rent_outdoor_gear",
        description="Rent outdoor equipment from the local outfitter for a number of hours.",
        params=(
            Param("item", "string", "Equipment to rent.", "enum",
                  enum=("kayak", "paddleboard", "canoe", "mountain_bike", "tandem_bike", "tent", "surfboard",
                        "fishing_boat"),
                  surfaces={"paddleboard": ("SUP", "stand-up paddleboard")}),
            Param("hours", "integer", "Optional rental length in hours; a full day when omitted.", "int:2:8",
                  required=False),
            Param("day", "string", "Optional day of the rental; today when omitted.", "day", required=False),
        ),
        templates=(
            "rent a {item}",
            "rent a {item} for {hours} hours {day}",
            "I'd like to rent a {item} {day}",
            "can I get a {item} for {hours} hours",
            "book a {item} rental for {day}",
            "reserve a {item} from the outfitter",
            "hire a {item} for {hours} hours",
            "set me up with a rental {item} {day}",
        ),
        indirect=(
            "I've always wanted to try a {item}, could I get one for {hours} hours somewhere",
            "we're visiting {day} and didn't bring a {item}",
        ),
        near_miss=("book_court",),
    ),
)

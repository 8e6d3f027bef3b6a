"""Custom device peripherals: a camera drone, a 3D printer, a smart mirror and an e-ink display."""

from ..schema import Param, Tool

CATEGORY = "device_peripherals"
TITLE = "Custom device peripherals (drone, 3D printer, smart mirror, e-ink display)"

POOLS = {
    # Model files as a user would name them, all read after "the".
    "print_model": ("benchy boat", "phone stand", "cable clip", "plant pot", "replacement knob", "dice tower",
                    "headphone hook", "calibration cube", "cookie cutter", "chess set", "drawer handle",
                    "Raspberry Pi case", "miniature dragon", "lamp shade", "shelf bracket", "wall hook",
                    "keychain", "spool holder", "pen holder", "gear set", "bottle opener", "cable organizer",
                    "lithophane of the beach photo", "vase in spiral mode", "controller wall mount"),
    "mirror_widget": ("weather", "calendar", "news headlines", "commute time", "daily quote", "stock ticker",
                      "step count", "sleep score", "to-do list", "world clock", "air quality", "moon phase",
                      "traffic", "email inbox", "sports scores", "pollen count", "heart rate", "water intake",
                      "upcoming birthdays", "now playing", "package tracking", "skin care routine"),
    # What the e-ink panel shows, read after "show".
    "eink_content": ("today's agenda", "the grocery list", "the family calendar", "a photo of the kids",
                     "the weather forecast", "the bus departure times", "a daily quote", "the chore chart",
                     "the wifi password", "the meeting room schedule", "the banana bread recipe",
                     "the school lunch menu", "the train timetable", "my reading list", "the to-do list",
                     "the guest welcome message", "this week's meal plan", "the plant watering schedule",
                     "the countdown to our vacation", "the sprint board", "the art of the day",
                     "the house rules for guests", "tonight's TV schedule"),
}

_DISPLAY = Param("display", "string", "Optional panel to update when several are paired.", "enum",
                 required=False, enum=("kitchen", "hallway", "office", "bedroom"),
                 surfaces={"kitchen": ("fridge",), "hallway": ("front door", "entryway"),
                           "office": ("desk",), "bedroom": ("nightstand",)})

TOOLS = (
    Tool(
        name="launch_drone",
        description="Take off with the paired camera drone and climb to a hover, optionally in an automated "
                    "flight mode.",
        params=(
            Param("altitude_meters", "integer", "Height to climb to after take-off, in meters.", "int:3:120",
                  required=False),
            Param("flight_mode", "string", "Optional automated mode to start once airborne.", "enum",
                  required=False, enum=("hover", "follow_me", "orbit", "waypoint_mission"),
                  surfaces={"follow_me": ("tracking", "active track"),
                            "orbit": ("circle", "point of interest"),
                            "waypoint_mission": ("waypoint",)}),
        ),
        templates=(
            "launch the drone",
            "take off and hover at {altitude_meters} meters",
            "get the drone up to {altitude_meters} meters",
            "start a drone flight in {flight_mode} mode",
            "fly the drone up to {altitude_meters} meters and switch to {flight_mode}",
            "can you take off the drone",
            "drone, lift off in {flight_mode} mode",
            "send the quadcopter up, {altitude_meters} meters high",
            "I want the drone in the air in {flight_mode} mode",
        ),
        indirect=(
            "I'm about to start my bike ride, get the drone filming me in {flight_mode} mode",
            "I want an aerial view of the backyard from {altitude_meters} meters up",
        ),
        near_miss=("return_drone_home", "record_drone_video"),
    ),
    Tool(
        name="return_drone_home",
        description="Fly the drone back to its take-off point and land it there.",
        params=(
            Param("return_altitude_meters", "integer",
                  "Optional height to climb to before heading back, to clear trees and buildings.",
                  "int:10:120", required=False),
        ),
        templates=(
            "bring the drone back home",
            "return to home",
            "drone, come back and land",
            "fly back to the launch point at {return_altitude_meters} meters",
            "return the drone home at an altitude of {return_altitude_meters} meters",
            "can you call the drone back",
            "recall the quadcopter, climb to {return_altitude_meters} meters first",
            "make the drone return and land where it took off",
        ),
        indirect=(
            "the drone's battery is down to the last bit, I need it back here",
            "the wind is picking up and the drone is drifting, fly it back at {return_altitude_meters} "
            "meters so it clears the trees",
        ),
        near_miss=("launch_drone",),
    ),
    Tool(
        name="record_drone_video",
        description="Start recording video with the drone's camera.",
        params=(
            Param("resolution", "string", "Optional video resolution.", "enum", required=False,
                  enum=("1080p", "2.7k", "4k"),
                  surfaces={"1080p": ("full HD", "1080"), "4k": ("ultra HD", "4K")}),
            Param("duration_minutes", "integer", "Optional length of the clip; records until stopped if omitted.",
                  "duration_min", required=False),
        ),
        templates=(
            "start recording on the drone",
            "record video from the drone in {resolution}",
            "drone camera, roll for {duration_minutes}",
            "film {duration_minutes} of footage from the drone at {resolution}",
            "can the drone shoot video in {resolution}",
            "hit record on the drone camera",
            "capture {duration_minutes} of aerial video",
            "record drone footage at {resolution} for {duration_minutes}",
        ),
        indirect=(
            "the drone is right over the wedding party now, I want all of this on video in {resolution}",
            "the sunset over the lake looks amazing from up there, keep the drone camera rolling for "
            "{duration_minutes}",
        ),
        near_miss=("launch_drone",),
    ),
    Tool(
        name="start_3d_print",
        description="Slice and start printing a saved model on the 3D printer.",
        params=(
            Param("model_name", "string", "Name of the saved model file to print.", "text:print_model"),
            Param("material", "string", "Optional filament loaded for this print.", "enum", required=False,
                  enum=("PLA", "PETG", "ABS", "TPU"),
                  surfaces={"TPU": ("flexible filament",)}),
            Param("infill_percent", "integer", "Optional infill density, 0 to 100 percent.", "percent",
                  required=False),
        ),
        templates=(
            "print the {model_name}",
            "start printing the {model_name} in {material}",
            "3D print the {model_name} with {infill_percent} infill",
            "can you send the {model_name} to the printer",
            "kick off a print of the {model_name} using {material} at {infill_percent} infill",
            "I want the {model_name} printed",
            "start the {model_name} job, infill {infill_percent}",
            "queue up the {model_name} on the 3D printer with {material}",
            "please print me the {model_name}",
        ),
        indirect=(
            "the old {model_name} snapped, I need a new one from the printer",
            "I've got {material} loaded and nothing printing, let's make the {model_name}",
        ),
        near_miss=("preheat_3d_printer", "pause_3d_print"),
    ),
    Tool(
        name="preheat_3d_printer",
        description="Heat the 3D printer's nozzle, and optionally its bed, to a target temperature without "
                    "starting a print.",
        params=(
            Param("nozzle_temp_c", "integer", "Target nozzle temperature in degrees Celsius.", "int:180:280"),
            Param("bed_temp_c", "integer", "Optional target bed temperature in degrees Celsius.", "int:40:110",
                  required=False),
        ),
        templates=(
            "preheat the printer to {nozzle_temp_c} degrees",
            "heat the nozzle to {nozzle_temp_c}",
            "warm up the 3D printer, nozzle {nozzle_temp_c} and bed {bed_temp_c}",
            "set the hotend to {nozzle_temp_c} degrees and the bed to {bed_temp_c}",
            "can you preheat to {nozzle_temp_c} C",
            "get the extruder up to {nozzle_temp_c} degrees",
            "preheat: {nozzle_temp_c} on the nozzle, {bed_temp_c} on the bed",
            "I need the printer hot, {nozzle_temp_c} degrees nozzle please",
        ),
        indirect=(
            "I'm about to swap the filament, the nozzle has to be at {nozzle_temp_c} to pull it out",
            "the bed should be {bed_temp_c} and the nozzle {nozzle_temp_c} by the time I finish levelling",
        ),
        near_miss=("start_3d_print",),
    ),
    Tool(
        name="pause_3d_print",
        description="Pause the running 3D print and park the print head; it can resume later.",
        params=(
            Param("resume_after_minutes", "integer",
                  "Optional automatic resume after this many minutes; stays paused if omitted.", "duration_min",
                  required=False),
        ),
        templates=(
            "pause the print",
            "pause the 3D printer",
            "hold the print for {resume_after_minutes}",
            "pause printing and resume after {resume_after_minutes}",
            "can you stop the printer for a moment, I'll resume it myself",
            "put the current print on pause for {resume_after_minutes}",
            "freeze the print job",
            "halt the printer for {resume_after_minutes} then carry on",
        ),
        indirect=(
            "the filament is about to run out, I need time to load a new spool",
            "I want to drop a magnet into the print, give me {resume_after_minutes} before it continues",
        ),
        near_miss=("start_3d_print",),
    ),
    Tool(
        name="show_mirror_widget",
        description="Show a widget on the smart mirror's display, optionally in a given corner.",
        params=(
            Param("widget", "string", "The widget to show.", "text:mirror_widget"),
            Param("position", "string", "Optional place on the mirror.", "enum", required=False,
                  enum=("top_left", "top_right", "bottom_left", "bottom_right", "center"),
                  surfaces={"top_left": ("upper left",), "top_right": ("upper right",),
                            "bottom_left": ("lower left",), "bottom_right": ("lower right",),
                            "center": ("middle",)}),
        ),
        templates=(
            "show the {widget} on the mirror",
            "put the {widget} widget on my smart mirror",
            "add {widget} to the mirror in the {position}",
            "mirror, display {widget}",
            "can the mirror show my {widget} in the {position}",
            "I want to see {widget} on the bathroom mirror",
            "pin the {widget} widget to the {position} of the mirror",
            "smart mirror: {widget}, {position}",
        ),
        indirect=(
            "when I'm brushing my teeth I'd like to glance at the {widget}",
            "I keep forgetting to check the {widget} in the morning, the mirror should just show it in the "
            "{position}",
        ),
        near_miss=("show_on_eink_display", "set_mirror_lighting"),
    ),
    Tool(
        name="set_mirror_lighting",
        description="Set the brightness and colour temperature of the smart mirror's built-in front light.",
        params=(
            Param("brightness_percent", "integer", "Light level, 0 to 100 percent.", "percent"),
            Param("color_temperature", "string", "Optional light colour.", "enum", required=False,
                  enum=("warm", "neutral", "cool"),
                  surfaces={"warm": ("warm white", "soft warm"), "neutral": ("natural white",),
                            "cool": ("cool white", "bright cool")}),
        ),
        templates=(
            "set the mirror light to {brightness_percent}",
            "mirror lighting {brightness_percent}, {color_temperature}",
            "dim the vanity mirror to {brightness_percent}",
            "make the mirror light {color_temperature} at {brightness_percent}",
            "can you turn the mirror light up to {brightness_percent}",
            "I want {color_temperature} light on the mirror at {brightness_percent} brightness",
            "change the mirror's front light to {brightness_percent}",
            "mirror glow {brightness_percent} please",
        ),
        indirect=(
            "I'm doing my makeup and need to see true colours, {color_temperature} light at "
            "{brightness_percent} on the mirror",
            "the mirror is blinding me this early, bring it to {brightness_percent}",
        ),
        near_miss=("show_mirror_widget",),
    ),
    Tool(
        name="show_on_eink_display",
        description="Put a piece of content on an e-ink display panel; it stays on screen without power.",
        params=(
            Param("content", "string", "What the panel should show.", "text:eink_content"),
            _DISPLAY,
        ),
        templates=(
            "show {content} on the e-ink display",
            "put {content} on the {display} e-paper screen",
            "display {content} on the e-ink panel",
            "can the {display} e-ink screen show {content}",
            "update the e-paper display with {content}",
            "I want {content} on the ink display",
            "switch the {display} panel to {content}",
            "e-ink: {content}",
        ),
        indirect=(
            "guests are arriving tonight, the {display} panel should have {content} on it",
            "I keep pulling out my phone to check {content}, just leave it up on the e-ink screen",
        ),
        near_miss=("show_mirror_widget", "set_eink_refresh_interval"),
    ),
    Tool(
        name="set_eink_refresh_interval",
        description="Set how often an e-ink display redraws its content; longer intervals save battery.",
        params=(
            Param("interval_minutes", "integer", "Time between refreshes, in minutes.", "duration_min"),
            _DISPLAY,
        ),
        templates=(
            "set the e-ink display to refresh at intervals of {interval_minutes}",
            "set the e-paper refresh interval to {interval_minutes}",
            "the {display} e-ink screen should update with {interval_minutes} between refreshes",
            "make the {display} panel redraw after {interval_minutes} each time",
            "can the ink display wait {interval_minutes} between refreshes instead",
            "change the e-ink update interval to {interval_minutes}",
            "e-ink refresh interval: {interval_minutes}",
            "I'd like the {display} display to reload, with {interval_minutes} in between",
        ),
        indirect=(
            "the {display} e-ink panel drains its battery too fast, a refresh interval of {interval_minutes} is plenty",
            "the bus times on the e-ink screen are always stale, it should refresh after {interval_minutes} at most",
        ),
        near_miss=("show_on_eink_display",),
    ),
)

"""Everyday pool: smart home lights, climate, locks, scenes, blinds, plugs, cameras, security, vacuum."""

from ..schema import Param, Tool

CATEGORY = "smart_home"
TITLE = "Smart home (everyday)"

POOLS = {
    "room": ("living room", "kitchen", "bedroom", "master bedroom", "kids' room", "office", "hallway", "bathroom",
             "dining room", "basement", "garage", "guest room", "patio", "front porch", "nursery", "den",
             "laundry room", "attic", "backyard", "upstairs landing", "entryway", "playroom", "family room",
             "study"),
    "scene": ("movie night", "good morning", "bedtime", "dinner party", "reading", "relax", "focus",
              "romantic dinner", "wake up", "game day", "cleaning", "welcome home", "party", "sunset",
              "cozy evening", "workout", "vacation", "quiet hours", "date night", "kids' bedtime", "leaving home",
              "night light", "bright", "morning coffee"),
    "plug_device": ("coffee maker", "space heater", "Christmas tree lights", "desk fan", "humidifier",
                    "air purifier", "TV", "lava lamp", "fish tank light", "electric blanket", "string lights",
                    "printer", "kettle", "aquarium heater", "garden fountain", "floor lamp", "sound bar",
                    "game console", "heated towel rail", "dehumidifier", "salt lamp", "curling iron",
                    "hair straightener", "iron"),
}

_ROOM = Param("room", "string", "The room, as named in the smart home app.", "text:room")
_DOOR = Param("door", "string", "Which smart lock.", "enum",
              enum=("front_door", "back_door", "side_door", "patio_door", "garage_entry"),
              surfaces={"front_door": ("main door",), "garage_entry": ("door from the garage", "garage side door")})

TOOLS = (
    Tool(
        name="turn_on_lights",
        description="Turn on the smart lights in a room, optionally at a brightness and color.",
        params=(
            _ROOM,
            Param("brightness_percent", "integer", "Optional brightness, 0-100.", "percent", required=False),
            Param("color", "string", "Optional light color.", "enum", required=False,
                  enum=("warm_white", "cool_white", "daylight", "red", "blue", "green", "purple", "orange"),
                  surfaces={"warm_white": ("warm", "soft white"), "cool_white": ("cool",)}),
        ),
        templates=(
            "turn on the {room} lights",
            "lights on in the {room}",
            "switch on the {room} light at {brightness_percent}",
            "turn the {room} lights on, {color}",
            "can you put the lights on in the {room} at {brightness_percent} brightness",
            "I want the {room} lit up {color} at {brightness_percent}",
            "light up the {room}",
            "please turn on the lights in the {room}",
        ),
        indirect=(
            "it's pitch black in the {room}, I can't see a thing",
            "I'm about to read in the {room} and it's too dark, {brightness_percent} would be nice",
        ),
        near_miss=("turn_off_lights", "set_grow_light"),
    ),
    Tool(
        name="turn_off_lights",
        description="Turn off the smart lights in a room.",
        params=(
            _ROOM,
            Param("fade_seconds", "integer", "Optional fade-out time in seconds; instant when omitted.",
                  "int:2:60", required=False),
        ),
        templates=(
            "turn off the {room} lights",
            "lights off in the {room}",
            "kill the lights in the {room}",
            "switch off the {room} light",
            "fade out the {room} lights over {fade_seconds} seconds",
            "can you turn the lights off in the {room}",
            "shut off the {room} lights, fade them over {fade_seconds} seconds",
            "I don't need the {room} lights anymore, turn them off",
        ),
        indirect=(
            "I left the lights on in the {room} again",
            "nobody's in the {room} and it's lit up like a stadium",
        ),
        near_miss=("turn_on_lights",),
    ),
    Tool(
        name="set_thermostat",
        description="Set the home thermostat's target temperature and mode.",
        params=(
            Param("temperature_f", "integer", "Target temperature in degrees Fahrenheit.", "int:58:82"),
            Param("mode", "string", "Optional HVAC mode.", "enum", required=False,
                  enum=("heat", "cool", "auto", "eco"),
                  surfaces={"heat": ("heating",), "cool": ("cooling", "AC"), "eco": ("energy saving",)}),
        ),
        templates=(
            "set the thermostat to {temperature_f}",
            "make it {temperature_f} degrees in here",
            "set the temperature to {temperature_f} degrees",
            "thermostat {temperature_f}, {mode} mode",
            "change the temperature to {temperature_f}",
            "can you set the house to {temperature_f} on {mode}",
            "I want it at {temperature_f} degrees",
            "put the thermostat in {mode} mode at {temperature_f}",
        ),
        indirect=(
            "I'm freezing, {temperature_f} degrees would be way more comfortable",
            "it's stuffy in here, bring it down to {temperature_f}",
        ),
        near_miss=("set_greenhouse_temperature",),
    ),
    Tool(
        name="lock_door",
        description="Lock a smart door lock.",
        params=(_DOOR,),
        templates=(
            "lock the {door}",
            "lock the {door} please",
            "can you lock up the {door}",
            "make sure the {door} is locked",
            "secure the {door}",
            "I want the {door} locked",
            "bolt the {door}",
        ),
        indirect=(
            "I think I forgot to lock the {door} when I left",
            "heading to bed and the {door} is still unlocked",
        ),
        near_miss=("unlock_door", "arm_security_system"),
    ),
    Tool(
        name="unlock_door",
        description="Unlock a smart door lock, optionally relocking it automatically after a while.",
        params=(
            _DOOR,
            Param("relock_after_minutes", "integer", "Optional minutes until it locks itself again.",
                  "duration_min", required=False),
        ),
        templates=(
            "unlock the {door}",
            "open the lock on the {door}",
            "unlock the {door} for {relock_after_minutes}",
            "can you unlock the {door} please",
            "let me in the {door}",
            "unlock the {door} and lock it again after {relock_after_minutes}",
            "I need the {door} unlocked",
            "pop the {door} lock",
        ),
        indirect=(
            "the dog walker is at the {door} and doesn't have a key",
            "my hands are full of groceries and I'm standing at the {door}",
        ),
        near_miss=("lock_door",),
    ),
    Tool(
        name="activate_scene",
        description="Activate a saved smart home scene that sets several devices at once.",
        params=(
            Param("scene", "string", "Name of the saved scene.", "text:scene"),
        ),
        templates=(
            "activate {scene}",
            "turn on the {scene} scene",
            "set the house to {scene}",
            "run my {scene} scene",
            "can you start {scene} mode",
            "switch to the {scene} scene",
            "I want the {scene} scene on",
            "scene: {scene}",
        ),
        indirect=(
            "I'm in the mood for the {scene} vibe tonight",
            "we're settling in, put everything in {scene} mode",
        ),
        near_miss=("turn_on_lights",),
    ),
    Tool(
        name="set_blinds_position",
        description="Open or close the motorized blinds in a room to a given percentage.",
        params=(
            _ROOM,
            Param("open_percent", "integer", "How far open, 0 (closed) to 100 (fully open).", "percent"),
        ),
        templates=(
            "open the {room} blinds to {open_percent}",
            "set the blinds in the {room} to {open_percent}",
            "put the {room} shades at {open_percent}",
            "adjust the {room} blinds to {open_percent} open",
            "can you move the {room} blinds to {open_percent}",
            "{room} blinds {open_percent} please",
            "I want the {room} blinds {open_percent} open",
        ),
        indirect=(
            "the sun is blinding me in the {room}, the blinds at {open_percent} would help",
            "I'd like a bit more light in the {room}, say blinds {open_percent} open",
        ),
        near_miss=("turn_on_lights",),
    ),
    Tool(
        name="switch_off_smart_plug",
        description="Cut power to a device on a smart plug, now or after a delay.",
        params=(
            Param("device", "string", "The device plugged into the smart plug.", "text:plug_device"),
            Param("delay_minutes", "integer", "Optional delay before switching off, in minutes.", "duration_min",
                  required=False),
        ),
        templates=(
            "turn off the {device}",
            "switch off the {device} plug",
            "cut power to the {device}",
            "turn off the {device} in {delay_minutes}",
            "shut the {device} off after {delay_minutes}",
            "can you kill the {device}",
            "power down the {device} plug in {delay_minutes}",
            "I want the {device} off",
        ),
        indirect=(
            "I think I left the {device} on at home",
            "the {device} has been running all day, it can go off in {delay_minutes}",
        ),
        near_miss=("turn_off_lights",),
    ),
    Tool(
        name="view_camera_feed",
        description="Show the live feed from a home security camera on the screen.",
        params=(
            Param("camera", "string", "Which camera.", "enum",
                  enum=("front_door", "driveway", "backyard", "garage", "side_gate", "porch", "living_room",
                        "nursery"),
                  surfaces={"front_door": ("doorbell",), "backyard": ("back yard", "garden")}),
        ),
        templates=(
            "show me the {camera} camera",
            "pull up the {camera} cam",
            "let me see the {camera} feed",
            "open the {camera} camera",
            "what's on the {camera} camera right now",
            "can you put the {camera} camera on the screen",
            "live view of the {camera}",
        ),
        indirect=(
            "I just heard something by the {camera}, what's going on there",
            "the motion alert keeps going off on the {camera} camera",
        ),
        near_miss=("arm_security_system",),
    ),
    Tool(
        name="arm_security_system",
        description="Arm the home security alarm in a chosen mode.",
        params=(
            Param("mode", "string", "Arming mode: away arms everything, home and night leave some motion "
                  "sensors off.", "enum", enum=("away", "home", "night"),
                  surfaces={"home": ("stay",)}),
        ),
        templates=(
            "arm the alarm in {mode} mode",
            "set the security system to {mode}",
            "arm the house, {mode} mode",
            "turn on the alarm in {mode} mode",
            "can you arm security in {mode} mode",
            "switch the alarm to {mode}",
            "I want the alarm armed {mode}",
        ),
        indirect=(
            "I never remember how to arm this thing, it should be on {mode}",
            "feels risky leaving the house unprotected, {mode} mode would be right",
        ),
        near_miss=("lock_door",),
    ),
    Tool(
        name="start_robot_vacuum",
        description="Send the robot vacuum to clean, optionally just one room and at a chosen suction power.",
        params=(
            Param("room", "string", "Optional room to clean; the whole home when omitted.", "text:room",
                  required=False),
            Param("suction", "string", "Optional suction power.", "enum", required=False,
                  enum=("quiet", "standard", "turbo", "max"),
                  surfaces={"quiet": ("low", "silent"), "turbo": ("high",), "max": ("full power",)}),
        ),
        templates=(
            "start the robot vacuum",
            "vacuum the {room}",
            "send the robot vacuum to the {room}",
            "run the vacuum on {suction}",
            "clean the {room} with the vacuum on {suction}",
            "can you get the robot vacuum going",
            "have the vacuum do the {room}",
            "run the vacuum in the {room} on {suction}",
        ),
        indirect=(
            "the dog shed all over the {room}",
            "there are crumbs all over the {room} floor, probably needs the vacuum on {suction}",
        ),
        near_miss=("activate_scene",),
    ),
)

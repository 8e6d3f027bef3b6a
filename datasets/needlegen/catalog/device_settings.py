"""Everyday pool: phone and tablet settings."""

from ..schema import Param, Tool

CATEGORY = "device_settings"
TITLE = "Device settings (everyday)"

POOLS = {
    "wifi_network": ("HomeNet 5G", "Smith Family WiFi", "Airport Free WiFi", "Office Guest", "Linksys 2040",
                     "Netgear 42", "Marriott Bonvoy Guest", "Bean There Cafe", "Library Public", "TP-Link 5G",
                     "xfinitywifi", "Pixel Hotspot", "Dad's iPhone", "Apartment 4B", "Guest Network",
                     "Corp Secure", "Gym WiFi", "Amtrak WiFi", "Conference Hall", "Cabin Starlink", "Mom's House",
                     "eduroam", "Hilton Honors"),
    # Each value carries its own determiner, so templates put no article before the slot.
    "bluetooth_device": ("my AirPods Pro", "my Sony headphones", "the car stereo", "the JBL speaker",
                         "my Galaxy Buds", "my Bose headphones", "my smartwatch", "the kitchen speaker",
                         "my Apple Watch", "the Beats Studio", "the Logitech keyboard", "the Magic Mouse",
                         "my Pixel Buds", "the soundbar", "my Fitbit", "the PS5 controller", "my hearing aids",
                         "my Jabra earbuds", "my Garmin watch", "the Anker speaker", "the bike computer",
                         "the Sonos Roam"),
    "ringtone": ("Marimba", "Chimes", "Radar", "Opening", "Classic Bell", "Digital Phone", "Silk", "Beacon",
                 "Crystals", "Harp", "Old Phone", "Ripples", "Summit", "Twinkle", "Uplift", "Playtime",
                 "Reflection", "Waves", "Cosmic", "Sencha", "Night Owl", "Apex", "Hillside"),
}

# Toggle surfaces are verbs so one slot can open the request ("{enabled} wifi").
_ON_OFF = {"true": ("turn on", "switch on", "enable"), "false": ("turn off", "switch off", "disable")}

TOOLS = (
    Tool(
        name="set_device_volume",
        description="Set the phone's volume level for one audio stream.",
        params=(
            Param("level", "integer", "Volume level, 0 to 100 percent.", "percent"),
            Param("stream", "string", "Optional stream to change; media if omitted.", "enum", required=False,
                  enum=("media", "ringer", "alarm", "notification"),
                  surfaces={"ringer": ("ringtone", "ring"), "media": ("music", "video"),
                            "notification": ("notifications",)}),
        ),
        templates=(
            "set the volume to {level}",
            "volume {level}",
            "turn the {stream} volume to {level}",
            "change my {stream} volume to {level}",
            "can you put the volume at {level}",
            "make the phone {level} volume",
            "I want the {stream} volume at {level}",
            "adjust {stream} volume to {level} please",
        ),
        indirect=(
            "I can barely hear this podcast, bring it up to {level}",
            "I keep missing things because the {stream} volume is too low, {level} should do it",
        ),
        near_miss=("set_screen_brightness", "set_ringtone"),
    ),
    Tool(
        name="set_screen_brightness",
        description="Set the screen brightness, and optionally turn adaptive (automatic) brightness on or off.",
        params=(
            Param("level", "integer", "Brightness level, 0 to 100 percent.", "percent"),
            Param("adaptive", "boolean", "Whether brightness keeps adjusting to ambient light.", "bool",
                  required=False,
                  surfaces={"true": ("and keep auto-brightness on", "with adaptive brightness on"),
                            "false": ("and turn off auto-brightness", "with adaptive brightness off")}),
        ),
        templates=(
            "set brightness to {level}",
            "screen brightness {level}",
            "dim the screen to {level}",
            "make the display {level} bright {adaptive}",
            "turn the brightness up to {level}",
            "can you change the screen brightness to {level} {adaptive}",
            "brightness at {level} please",
            "put my display at {level} {adaptive}",
        ),
        indirect=(
            "I'm in bed and this screen is burning my eyes, take it down to {level}",
            "I can't read anything out here in the sun, go to {level} {adaptive}",
        ),
        near_miss=("set_dark_mode", "set_device_volume"),
    ),
    Tool(
        name="toggle_wifi",
        description="Turn the phone's Wi-Fi radio on or off.",
        params=(
            Param("enabled", "boolean", "True to turn Wi-Fi on, false to turn it off.", "bool", surfaces=_ON_OFF),
        ),
        templates=(
            "{enabled} wifi",
            "{enabled} the wi-fi",
            "can you {enabled} wifi on my phone",
            "please {enabled} wireless",
            "I need you to {enabled} the wifi",
            "quickly {enabled} wi-fi",
            "{enabled} wifi for me",
        ),
        indirect=(
            "this wifi keeps dropping out, just {enabled} the wi-fi for now",
            "before I forget, {enabled} wifi, the network here is weird",
        ),
        near_miss=("connect_to_wifi_network", "toggle_airplane_mode"),
    ),
    Tool(
        name="connect_to_wifi_network",
        description="Join a specific saved or visible Wi-Fi network by name.",
        params=(
            Param("network", "string", "The network name (SSID).", "text:wifi_network"),
        ),
        templates=(
            "connect to {network}",
            "join the {network} wifi",
            "switch to the {network} network",
            "can you get me on {network}",
            "hop on the {network} wi-fi",
            "use {network} for the internet",
            "I want to connect to the {network} network",
            "log into wifi {network}",
        ),
        indirect=(
            "the signal on this network is awful, I think {network} reaches this room better",
            "the host said I can use {network} while I'm here",
        ),
        near_miss=("toggle_wifi",),
    ),
    Tool(
        name="pair_bluetooth_device",
        description="Pair and connect a Bluetooth accessory.",
        params=(
            Param("device", "string", "The accessory to pair.", "text:bluetooth_device"),
        ),
        templates=(
            "pair {device}",
            "connect {device} over bluetooth",
            "can you pair my phone with {device}",
            "hook up {device}",
            "bluetooth connect to {device}",
            "I want to use {device}, pair it",
            "link {device} to my phone",
            "set up {device} with bluetooth",
        ),
        indirect=(
            "{device} is in pairing mode and blinking blue",
            "I just unboxed {device} and want to get it working with this phone",
        ),
        near_miss=("connect_to_wifi_network",),
    ),
    Tool(
        name="set_do_not_disturb",
        description="Silence calls and notifications, for a duration or until a clock time, optionally "
                    "letting favourite contacts through.",
        params=(
            Param("duration_minutes", "integer", "Optional length of quiet time in minutes.", "duration_min",
                  required=False),
            Param("until", "string", "Optional end time, 24-hour HH:MM.", "time", required=False),
            Param("allow_favorites", "boolean", "Whether calls from favourite contacts still ring.", "bool",
                  required=False,
                  surfaces={"true": ("but let my favorites through", "except for favorite contacts"),
                            "false": ("and block everyone", "no exceptions")}),
        ),
        templates=(
            "turn on do not disturb",
            "do not disturb for {duration_minutes}",
            "silence my phone until {until}",
            "put the phone on do not disturb until {until} {allow_favorites}",
            "mute all notifications for {duration_minutes} {allow_favorites}",
            "enable DND for {duration_minutes}",
            "can you make sure nothing buzzes until {until}",
            "focus mode on, {allow_favorites}",
            "I don't want to be disturbed for {duration_minutes}",
        ),
        indirect=(
            "I'm heading into a job interview, nobody should reach me for {duration_minutes}",
            "the baby is finally asleep and my phone keeps buzzing, keep it quiet until {until}",
        ),
        near_miss=("toggle_airplane_mode", "set_device_volume"),
    ),
    Tool(
        name="toggle_airplane_mode",
        description="Turn airplane mode on or off, which disables or restores all wireless radios.",
        params=(
            Param("enabled", "boolean", "True to turn airplane mode on, false to turn it off.", "bool",
                  surfaces=_ON_OFF),
        ),
        templates=(
            "{enabled} airplane mode",
            "{enabled} flight mode",
            "can you {enabled} airplane mode",
            "please {enabled} flight mode on my phone",
            "{enabled} airplane mode now",
            "I need to {enabled} airplane mode",
            "hey, {enabled} the airplane mode",
        ),
        indirect=(
            "my phone is acting up with the signal, {enabled} airplane mode for me",
            "the flight attendant just mentioned phones, {enabled} flight mode",
        ),
        near_miss=("toggle_wifi", "set_do_not_disturb"),
    ),
    Tool(
        name="set_ringtone",
        description="Change the ringtone, for all calls or for one contact.",
        params=(
            Param("sound", "string", "Ringtone name.", "text:ringtone"),
            Param("contact", "string", "Optional contact who gets this ringtone.", "person", required=False),
        ),
        templates=(
            "change my ringtone to {sound}",
            "set {sound} as my ringtone",
            "use {sound} when {contact} calls",
            "give {contact} the {sound} ringtone",
            "can you make my ringtone {sound}",
            "switch the ring sound to {sound}",
            "I want {sound} for calls from {contact}",
            "ringtone: {sound}",
        ),
        indirect=(
            "I never know if it's my phone ringing or someone else's, {sound} would be more distinctive",
            "I want to know it's {contact} without looking, play {sound} for them",
        ),
        near_miss=("set_device_volume",),
    ),
    Tool(
        name="set_dark_mode",
        description="Switch the system theme between dark and light, or let it follow the time of day.",
        params=(
            Param("mode", "string", "Theme setting.", "enum", enum=("dark", "light", "automatic"),
                  surfaces={"dark": ("night",), "automatic": ("auto",)}),
        ),
        templates=(
            "switch to {mode} mode",
            "set the theme to {mode}",
            "turn on {mode} mode",
            "can you put my phone in {mode} mode",
            "make the display theme {mode}",
            "I want {mode} mode",
            "change appearance to {mode}",
        ),
        indirect=(
            "my eyes keep adjusting between apps, just go with {mode} mode everywhere",
            "I'd rather the screen theme was {mode}, it looks better to me",
        ),
        near_miss=("set_screen_brightness",),
    ),
    Tool(
        name="toggle_battery_saver",
        description="Turn battery saver on or off, optionally setting the charge level at which it turns on "
                    "by itself.",
        params=(
            Param("enabled", "boolean", "True to turn battery saver on, false to turn it off.", "bool",
                  surfaces=_ON_OFF),
            Param("auto_at_percent", "integer", "Optional battery level that switches it on automatically.",
                  "percent", required=False),
        ),
        templates=(
            "{enabled} battery saver",
            "{enabled} low power mode",
            "can you {enabled} power saving mode",
            "{enabled} battery saver and have it kick in at {auto_at_percent}",
            "please {enabled} the battery saver, automatic at {auto_at_percent}",
            "I want to {enabled} low power mode",
            "{enabled} power saver on my phone",
            "{enabled} battery saving, trigger level {auto_at_percent}",
        ),
        indirect=(
            "that battery saver popup keeps bugging me, just {enabled} battery saver already",
            "the phone feels sluggish lately, maybe {enabled} low power mode and see",
        ),
        near_miss=("set_screen_brightness",),
    ),
    Tool(
        name="set_app_notifications",
        description="Allow or block notifications from one app.",
        params=(
            Param("app", "string", "The app whose notifications change.", "text:app"),
            Param("enabled", "boolean", "True to allow notifications, false to block them.", "bool",
                  surfaces={"true": ("turn on", "allow", "unmute"), "false": ("turn off", "block", "mute")}),
        ),
        templates=(
            "{enabled} notifications from {app}",
            "{enabled} {app} notifications",
            "can you {enabled} the alerts for {app}",
            "please {enabled} {app} push notifications",
            "I want to {enabled} notifications for {app}",
            "{enabled} all {app} alerts",
            "{enabled} notifications for the {app} app",
        ),
        indirect=(
            "I'm sorting out my notifications, {enabled} the ones from {app}",
            "{app} keeps asking me about alerts, {enabled} notifications for it",
        ),
        near_miss=("set_do_not_disturb",),
    ),
)

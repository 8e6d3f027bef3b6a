"""Everyday pool: timers, alarms and reminders."""

from ..schema import Param, Tool

CATEGORY = "timers_alarms"
TITLE = "Timers, alarms and reminders (everyday)"

POOLS = {
    "alarm_label": ("wake up", "gym", "school run", "take medicine", "standup meeting", "water the plants",
                    "pick up laundry", "leave for work", "bedtime", "call grandma", "feed the cat",
                    "start dinner", "yoga class", "check the oven", "move the car", "dentist",
                    "study break", "night shift", "flight check-in", "piano practice", "morning run",
                    "lunch", "meditation", "team sync", "pay rent"),
    "reminder_text": ("buy milk", "call the plumber", "renew my passport", "send the invoice",
                      "book a haircut", "return the library books", "pay the electricity bill",
                      "email Professor Lee", "pick up the dry cleaning", "charge the camera",
                      "cancel the gym trial", "order printer ink", "water the tomatoes",
                      "back up my laptop", "buy a birthday card", "check the tire pressure",
                      "submit the expense report", "call the bank", "bring the umbrella",
                      "refill the prescription", "text Sam the address", "defrost the chicken",
                      "take out the recycling", "update the budget sheet", "sign the permission slip"),
}

TOOLS = (
    Tool(
        name="set_timer",
        description="Start a countdown timer that rings when it reaches zero.",
        params=(
            Param("duration_minutes", "integer", "How long the timer runs, in minutes.", "duration_min"),
            Param("label", "string", "Optional name shown when the timer rings.", "text:alarm_label",
                  required=False),
        ),
        templates=(
            "set a timer for {duration_minutes}",
            "start a {duration_minutes} timer",
            "timer for {duration_minutes} please",
            "can you count down {duration_minutes} for me",
            "set a {duration_minutes} timer called {label}",
            "start a timer named {label} for {duration_minutes}",
            "put a {label} timer on for {duration_minutes}",
            "I need a countdown of {duration_minutes}",
        ),
        indirect=(
            "the pasta needs {duration_minutes}, let me know when it's done",
            "remind me when {duration_minutes} have gone by, I'm letting the dough rest",
        ),
        near_miss=("set_alarm",),
    ),
    Tool(
        name="set_alarm",
        description="Set an alarm for a clock time.",
        params=(
            Param("time", "string", "Alarm time, 24-hour HH:MM.", "time"),
            Param("label", "string", "Optional alarm label.", "text:alarm_label", required=False),
            Param("repeat_daily", "boolean", "Whether the alarm repeats every day.", "bool", required=False,
                  surfaces={"true": ("every day", "daily", "on repeat"), "false": ("just once", "only once")}),
        ),
        templates=(
            "set an alarm for {time}",
            "wake me up at {time}",
            "alarm at {time} {repeat_daily}",
            "set a {label} alarm for {time}",
            "create an alarm at {time} labelled {label}",
            "I need an alarm {repeat_daily} at {time}",
            "please set my alarm to {time}",
        ),
        indirect=(
            "I have to be up by {time} tomorrow or I'll miss my train",
            "make sure I don't sleep past {time}",
        ),
        near_miss=("set_timer", "create_reminder"),
    ),
    Tool(
        name="create_reminder",
        description="Create a reminder that notifies the user at a given day and time.",
        params=(
            Param("text", "string", "What to be reminded about.", "text:reminder_text"),
            Param("time", "string", "Time of the reminder, 24-hour HH:MM.", "time"),
            Param("day", "string", "Day of the reminder: a weekday, 'today' or 'tomorrow'.", "day",
                  required=False),
        ),
        templates=(
            "remind me to {text} at {time}",
            "set a reminder to {text} at {time} {day}",
            "remind me {day} at {time} to {text}",
            "at {time}, remind me to {text}",
            "create a reminder: {text}, {time}",
            "don't let me forget to {text} at {time}",
            "add a reminder for {time} {day} to {text}",
            "I need a reminder at {time} to {text}",
        ),
        indirect=(
            "I keep forgetting to {text}, nudge me at {time}",
            "my memory is terrible, I have to {text} by {time} {day}",
        ),
        near_miss=("set_alarm", "set_timer"),
    ),
    Tool(
        name="cancel_alarm",
        description="Delete an existing alarm, found by its time.",
        params=(
            Param("time", "string", "Time of the alarm to delete, 24-hour HH:MM.", "time"),
        ),
        templates=(
            "cancel my {time} alarm",
            "delete the alarm at {time}",
            "turn off the {time} alarm for good",
            "remove the alarm set for {time}",
            "get rid of my alarm at {time}",
            "I don't need the {time} alarm anymore, delete it",
            "clear the alarm for {time}",
        ),
        indirect=(
            "I'm off work tomorrow so the {time} wake-up won't be needed",
            "no school this week, that {time} alarm can go",
        ),
        near_miss=("snooze_alarm", "set_alarm"),
    ),
    Tool(
        name="list_alarms",
        description="List the alarms that are currently set.",
        params=(
            Param("include_disabled", "boolean", "Also list alarms that are switched off.", "bool",
                  required=False,
                  surfaces={"true": ("including the disabled ones", "even the ones that are off"),
                            "false": ("only the active ones", "just the ones that are on")}),
        ),
        templates=(
            "show my alarms",
            "what alarms do I have",
            "list all my alarms {include_disabled}",
            "which alarms are set",
            "read out my alarms {include_disabled}",
            "show me the alarms {include_disabled}",
            "do I have any alarms set",
        ),
        indirect=(
            "I can't remember if I set anything to wake me up",
            "am I going to be woken up early tomorrow",
        ),
        near_miss=("list_timers",),
    ),
    Tool(
        name="snooze_alarm",
        description="Snooze the alarm that is ringing now.",
        params=(
            Param("minutes", "integer", "How long to snooze, in minutes.", "duration_min", required=False),
        ),
        templates=(
            "snooze",
            "snooze the alarm",
            "snooze for {minutes}",
            "give me {minutes} more",
            "snooze it {minutes}",
            "hit snooze",
            "push the alarm back {minutes}",
        ),
        indirect=(
            "ugh, just {minutes} more sleep",
            "I'm so tired, let me sleep a little longer",
        ),
        near_miss=("cancel_alarm", "pause_timer"),
    ),
    Tool(
        name="pause_timer",
        description="Pause a running countdown timer, found by its label.",
        params=(
            Param("label", "string", "Label of the timer; the only running timer when left out.",
                  "text:alarm_label", required=False),
        ),
        templates=(
            "pause the timer",
            "pause the {label} timer",
            "hold the timer",
            "stop the {label} timer for a moment",
            "freeze the countdown",
            "put the {label} timer on hold",
            "pause my timer",
        ),
        indirect=(
            "wait, the doorbell rang, hold the countdown",
            "I have to step out, keep the {label} timer where it is",
        ),
        near_miss=("set_timer", "snooze_alarm"),
    ),
    Tool(
        name="list_timers",
        description="List the running timers and their remaining time.",
        params=(),
        templates=(
            "show my timers",
            "what timers are running",
            "how much time is left on my timers",
            "list the timers",
            "check my timers",
            "which timers do I have going",
        ),
        indirect=(
            "is the pasta almost done",
            "how long until something beeps",
        ),
        near_miss=("list_alarms",),
    ),
    Tool(
        name="start_stopwatch",
        description="Start a stopwatch that counts up from zero.",
        params=(
            Param("label", "string", "Optional name for the stopwatch.", "text:alarm_label", required=False),
        ),
        templates=(
            "start the stopwatch",
            "start a stopwatch for {label}",
            "begin timing",
            "start timing {label}",
            "stopwatch on",
            "time me, starting now",
            "start a {label} stopwatch",
        ),
        indirect=(
            "I want to see how long my {label} takes",
            "let's see how fast I can do this, go",
        ),
        near_miss=("set_timer",),
    ),
    Tool(
        name="set_bedtime_schedule",
        description="Set the nightly bedtime and wake-up times used for sleep reminders.",
        params=(
            Param("bedtime", "string", "When to go to bed, 24-hour HH:MM.", "time"),
            Param("wake_time", "string", "When to wake up, 24-hour HH:MM.", "time"),
            Param("weekdays_only", "boolean", "Apply the schedule on weekdays only.", "bool", required=False,
                  surfaces={"true": ("on weekdays only", "just on work days"),
                            "false": ("every night", "all week")}),
        ),
        templates=(
            "set my bedtime to {bedtime} and wake-up to {wake_time}",
            "bedtime {bedtime}, wake up {wake_time}",
            "make a sleep schedule from {bedtime} to {wake_time} {weekdays_only}",
            "I want to sleep at {bedtime} and get up at {wake_time}",
            "schedule bedtime at {bedtime} with a {wake_time} wake-up {weekdays_only}",
            "set up a bedtime schedule: bed at {bedtime}, up at {wake_time}",
            "change my sleep schedule to {bedtime} until {wake_time}",
        ),
        indirect=(
            "I'm always exhausted; help me get to bed by {bedtime} and up at {wake_time}",
            "my doctor says I need regular sleep, {bedtime} to {wake_time} {weekdays_only}",
        ),
        near_miss=("set_alarm",),
    ),
)

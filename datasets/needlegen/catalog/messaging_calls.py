"""Everyday pool: texts, group chats, phone and video calls, voicemail, email and contacts."""

from ..schema import Param, Tool

CATEGORY = "messaging_calls"
TITLE = "Messaging and calls (everyday)"

POOLS = {
    # Written to sit in "the {group} chat".
    "group_chat": ("family", "book club", "roommates", "soccer team", "work crew", "college friends",
                   "hiking buddies", "cousins", "neighbors", "band", "wedding party", "study group",
                   "game night", "running club", "office lunch", "trivia team", "climbing crew",
                   "brunch squad", "road trip", "poker night", "choir", "dog park", "school parents"),
    "email_subject": ("quarterly report", "Friday dinner", "updated invoice", "trip itinerary",
                      "project kickoff", "lease renewal", "job application", "team offsite",
                      "school pickup schedule", "weekend plans", "meeting notes", "birthday party",
                      "overdue payment", "conference registration", "new apartment", "holiday schedule",
                      "book club picks", "car repair quote", "volunteer shifts", "summer internship",
                      "wedding RSVP", "contract draft", "photos from the trip"),
}

TOOLS = (
    Tool(
        name="send_text_message",
        description="Send an SMS text message to one contact.",
        params=(
            Param("recipient", "string", "Contact to text.", "person"),
            Param("message", "string", "Text of the message.", "text:message"),
        ),
        templates=(
            "text {recipient} saying {message}",
            "send a message to {recipient}: {message}",
            "tell {recipient} {message}",
            "can you send {recipient} a text saying {message}",
            "shoot {recipient} a message: {message}",
            "send {recipient} a text that says {message}",
            "I want to text {recipient}: {message}",
            "SMS to {recipient}, {message}",
        ),
        indirect=(
            "{recipient} is waiting to hear from me, and what they need to know is: {message}",
            "I promised {recipient} I'd write back; the answer is {message}",
        ),
        near_miss=("send_group_message", "reply_to_last_message"),
    ),
    Tool(
        name="send_group_message",
        description="Post a message to a group chat everyone in the group can see.",
        params=(
            Param("group", "string", "Name of the group chat.", "text:group_chat"),
            Param("message", "string", "Text of the message.", "text:message"),
        ),
        templates=(
            "message the {group} group: {message}",
            "send {message} to the {group} chat",
            "post in the {group} chat: {message}",
            "group text to the {group} group saying {message}",
            "let everyone in the {group} chat know: {message}",
            "write in the {group} group chat, {message}",
            "drop a message in the {group} chat that says {message}",
        ),
        indirect=(
            "the whole {group} crowd should hear this: {message}",
            "I don't want to text everyone from the {group} one by one, they all need to know {message}",
        ),
        near_miss=("send_text_message",),
    ),
    Tool(
        name="call_contact",
        description="Place a voice call to a saved contact, optionally on speakerphone.",
        params=(
            Param("contact", "string", "Contact to call.", "person"),
            Param("speakerphone", "boolean", "Whether to start the call on the loudspeaker.", "bool",
                  required=False,
                  surfaces={"true": ("on speaker", "on speakerphone"),
                            "false": ("not on speaker", "without the speaker")}),
        ),
        templates=(
            "call {contact}",
            "ring {contact} {speakerphone}",
            "phone {contact}",
            "give {contact} a call",
            "can you dial {contact} for me",
            "I want to call {contact} {speakerphone}",
            "get {contact} on the phone",
            "place a call to {contact}",
        ),
        indirect=(
            "I need to talk to {contact} right now, it's urgent",
            "haven't heard {contact}'s voice in weeks and I miss them",
        ),
        near_miss=("start_video_call", "dial_phone_number"),
    ),
    Tool(
        name="dial_phone_number",
        description="Call a phone number that is not saved as a contact, optionally hiding caller ID.",
        params=(
            Param("number", "string", "Phone number to dial.", "phone"),
            Param("hide_caller_id", "boolean", "Whether to withhold the user's number.", "bool",
                  required=False,
                  surfaces={"true": ("with my number hidden", "privately"),
                            "false": ("with caller ID showing", "showing my number")}),
        ),
        templates=(
            "dial {number}",
            "call {number}",
            "ring {number} {hide_caller_id}",
            "phone the number {number}",
            "place a call to {number}",
            "can you call {number} for me",
            "I need to dial {number} {hide_caller_id}",
        ),
        indirect=(
            "the pharmacy's number is {number}, get them on the line",
            "the flyer says to call {number} for reservations",
        ),
        near_miss=("call_contact", "save_new_contact"),
    ),
    Tool(
        name="start_video_call",
        description="Start a video call with a contact, optionally through a specific app.",
        params=(
            Param("contact", "string", "Contact to video call.", "person"),
            Param("app", "string", "App to place the call with; the phone's default if omitted.", "enum",
                  required=False, enum=("facetime", "whatsapp", "signal", "messenger"),
                  surfaces={"facetime": ("FaceTime",), "whatsapp": ("WhatsApp",), "signal": ("Signal",),
                            "messenger": ("Messenger",)}),
        ),
        templates=(
            "video call {contact}",
            "start a video chat with {contact} on {app}",
            "{app} video call with {contact}",
            "call {contact} with video",
            "set up a video call with {contact} over {app}",
            "can you video {contact}",
            "I want to see {contact}, start a video call",
            "face to face call with {contact} please",
        ),
        indirect=(
            "I want to show {contact} the new puppy, cameras on",
            "{contact} wants to see the baby, can we do it on {app}",
        ),
        near_miss=("call_contact",),
    ),
    Tool(
        name="read_unread_messages",
        description="Read unread text messages aloud, optionally only those from one contact or only "
                    "the latest few.",
        params=(
            Param("sender", "string", "Only messages from this contact.", "person", required=False),
            Param("max_count", "integer", "Read at most this many messages.", "int:2:20", required=False),
        ),
        templates=(
            "read my new messages",
            "any new texts?",
            "read me my messages from {sender}",
            "what did {sender} send me",
            "read the last {max_count} unread texts",
            "do I have unread messages from {sender}",
            "check my texts",
            "read out the latest {max_count} messages from {sender}",
        ),
        indirect=(
            "my phone keeps buzzing but I'm driving",
            "I think {sender} replied but my hands are covered in paint",
        ),
        near_miss=("play_voicemail", "reply_to_last_message"),
    ),
    Tool(
        name="reply_to_last_message",
        description="Reply to the most recently received text message.",
        params=(
            Param("message", "string", "Text of the reply.", "text:message"),
        ),
        templates=(
            "reply {message}",
            "reply saying {message}",
            "answer that text with {message}",
            "respond: {message}",
            "write back {message}",
            "send a reply: {message}",
            "reply to the last message with {message}",
            "text them back saying {message}",
        ),
        indirect=(
            "whoever just messaged me, the answer is {message}",
            "that last text needs an answer: {message}",
        ),
        near_miss=("send_text_message",),
    ),
    Tool(
        name="schedule_text_message",
        description="Schedule a text message to a contact to be sent later at a set time.",
        params=(
            Param("recipient", "string", "Contact to text.", "person"),
            Param("message", "string", "Text of the message.", "text:message"),
            Param("time", "string", "When to send, 24-hour HH:MM.", "time"),
            Param("day", "string", "Day to send; today if omitted.", "day", required=False),
        ),
        templates=(
            "text {recipient} at {time} saying {message}",
            "schedule a message to {recipient} for {time}: {message}",
            "schedule a text to {recipient} {day} at {time} saying {message}",
            "at {time}, send {recipient} a message: {message}",
            "set up a text for {recipient} at {time} {day}: {message}",
            "queue a message for {recipient} to go out at {time}, {message}",
            "I want {recipient} to get a text at {time} that says {message}",
        ),
        indirect=(
            "{recipient} will be asleep now, so hold this until {time}: {message}",
            "{recipient} is in a meeting until {time} {day}, so this should only land then: {message}",
        ),
        near_miss=("send_text_message", "set_alarm"),
    ),
    Tool(
        name="send_email",
        description="Send an email to an address with a subject line and optional body text.",
        params=(
            Param("to", "string", "Recipient email address.", "email"),
            Param("subject", "string", "Subject line.", "text:email_subject"),
            Param("body", "string", "Body text of the email.", "text:message", required=False),
        ),
        templates=(
            "email {to} with the subject {subject}",
            "send an email to {to}, subject {subject}",
            "write an email to {to} titled {subject} that says {body}",
            "compose a mail to {to}: subject {subject}, body {body}",
            "email {to} about {subject}",
            "new email to {to}, subject line {subject}",
            "can you send {to} an email called {subject} saying {body}",
        ),
        indirect=(
            "{to} is waiting for my note about {subject}; just tell them {body}",
            "I owe {to} an email on {subject} and keep putting it off",
        ),
        near_miss=("send_text_message",),
    ),
    Tool(
        name="play_voicemail",
        description="Play voicemail messages, optionally only those from one contact or only the newest.",
        params=(
            Param("from_contact", "string", "Only voicemails from this contact.", "person", required=False),
            Param("newest_only", "boolean", "Whether to play just the most recent voicemail.", "bool",
                  required=False,
                  surfaces={"true": ("just the newest one", "only the latest"),
                            "false": ("all of them", "every one")}),
        ),
        templates=(
            "play my voicemail",
            "check voicemail",
            "any voicemails from {from_contact}?",
            "play the voicemail {from_contact} left",
            "listen to my voicemails, {newest_only}",
            "play voicemails from {from_contact}, {newest_only}",
            "what's on my voicemail",
            "did {from_contact} leave me a voicemail",
        ),
        indirect=(
            "I missed a call from {from_contact} and they left something",
            "there's a little voicemail icon on my phone, I want to hear {newest_only}",
        ),
        near_miss=("read_unread_messages", "call_contact"),
    ),
    Tool(
        name="save_new_contact",
        description="Save a new contact with a phone number and optional email address.",
        params=(
            Param("name", "string", "Contact's name.", "person"),
            Param("phone", "string", "Contact's phone number.", "phone"),
            Param("email", "string", "Contact's email address.", "email", required=False),
        ),
        templates=(
            "add {name} to my contacts, number {phone}",
            "save {phone} as {name}",
            "create a contact for {name} with phone {phone}",
            "new contact: {name}, {phone}, {email}",
            "store {name}'s number, it's {phone}",
            "add a contact named {name}, phone {phone}, email {email}",
            "save {name} with the number {phone}",
        ),
        indirect=(
            "I just met {name} at the conference, their number is {phone}",
            "{name} gave me {phone} and I don't want to lose it",
        ),
        near_miss=("dial_phone_number",),
    ),
)

"""Study and education tools: focus sessions, deadlines, flashcards, explanations, practice
quizzes, grade maths, study rooms, citations and the class timetable."""

from ..schema import Param, Tool

CATEGORY = "study_education"
TITLE = "Study and education tools"

POOLS = {
    "subject": ("organic chemistry", "linear algebra", "world history", "microeconomics", "biology",
                "calculus", "statistics", "art history", "physics", "macroeconomics", "psychology",
                "computer science", "French grammar", "philosophy", "anatomy", "geography", "music theory",
                "creative writing", "accounting", "environmental science", "sociology", "US government",
                "genetics", "data structures", "Spanish literature"),
    # Written to follow "the": "the {assignment} is due".
    "assignment": ("lab report", "history essay", "problem set", "reading response", "group presentation",
                   "book report", "research proposal", "coding project", "term paper", "math worksheet",
                   "case study", "poster presentation", "literature review", "chemistry prelab",
                   "portfolio review", "annotated bibliography", "statistics homework", "response paper",
                   "final project", "oral presentation", "discussion post", "science fair project",
                   "lab practical writeup"),
    "flashcard_deck": ("French verbs", "cell biology", "periodic table", "SAT vocabulary", "anatomy bones",
                       "world capitals", "organic reactions", "Spanish food words", "US presidents",
                       "calculus formulas", "music intervals", "GRE words", "medical abbreviations",
                       "Japanese kanji", "art movements", "physics constants", "legal terms",
                       "Python keywords", "Latin roots", "constitutional amendments", "bird species",
                       "drug classes"),
    # Noun phrases that read after "explain" and "what is".
    "study_term": ("photosynthesis", "opportunity cost", "the Pythagorean theorem", "mitosis",
                   "supply and demand", "entropy", "the French Revolution", "natural selection",
                   "a derivative", "compound interest", "the water cycle", "plate tectonics",
                   "cognitive dissonance", "the Krebs cycle", "Newton's third law", "a prime number",
                   "the scientific method", "inflation", "iambic pentameter", "standard deviation",
                   "osmosis", "the Magna Carta", "a covalent bond", "the electoral college"),
    "source_title": ("The Great Gatsby", "Sapiens", "A Brief History of Time", "Thinking, Fast and Slow",
                     "On the Origin of Species", "Silent Spring", "Guns, Germs, and Steel", "The Selfish Gene",
                     "Nineteen Eighty-Four", "The Structure of Scientific Revolutions", "Freakonomics",
                     "The Immortal Life of Henrietta Lacks", "Pride and Prejudice", "The Wealth of Nations",
                     "Orientalism", "The Republic", "Outliers", "The Feminine Mystique",
                     "Democracy in America", "The Double Helix", "Cosmos", "The Art of War", "Invisible Man"),
}

TOOLS = (
    Tool(
        name="start_study_session",
        description="Start a timed focus session for a subject, optionally blocking distracting apps "
                    "until it ends.",
        params=(
            Param("subject", "string", "What is being studied.", "text:subject"),
            Param("focus_minutes", "integer", "Length of the focus block in minutes; 25 if omitted.",
                  "duration_min", required=False),
            Param("block_distractions", "boolean", "Whether to block social and game apps during the session.",
                  "bool", required=False,
                  surfaces={"true": ("and block distracting apps", "with focus mode on"),
                            "false": ("without blocking apps", "and leave my apps alone")}),
        ),
        templates=(
            "start a study session for {subject}",
            "let's study {subject} for {focus_minutes}",
            "begin a focus block on {subject}, {focus_minutes} {block_distractions}",
            "I'm going to work on {subject} now, start the session",
            "study timer for {subject}: {focus_minutes}",
            "kick off a session on {subject} {block_distractions}",
            "open a study session, subject {subject}, {focus_minutes} long",
            "time to hit the {subject} books, start a focus session",
        ),
        indirect=(
            "my {subject} exam is next week and I keep getting distracted, time to buckle down",
            "okay, textbook open, {subject} for the next {focus_minutes}",
        ),
        near_miss=("log_study_time", "set_timer"),
    ),
    Tool(
        name="add_assignment_deadline",
        description="Add an assignment with its due date to the student planner.",
        params=(
            Param("assignment", "string", "The assignment.", "text:assignment"),
            Param("due_date", "string", "Due date, YYYY-MM-DD.", "date"),
            Param("course", "string", "Course the assignment belongs to.", "text:subject", required=False),
        ),
        templates=(
            "add my {assignment} due {due_date}",
            "the {assignment} is due on {due_date}, put it in my planner",
            "create a deadline for the {assignment} on {due_date}",
            "note the {course} {assignment}, due {due_date}",
            "track the {assignment} for {course}, due date {due_date}",
            "save a deadline: {assignment}, {due_date}",
            "put the {assignment} in my planner for {due_date}",
            "my {course} {assignment} is due {due_date}, add it",
        ),
        indirect=(
            "the professor just said the {assignment} has to be in by {due_date}",
            "I'll forget the {assignment} for {course} unless it's written down somewhere, it's due {due_date}",
        ),
        near_miss=("check_class_schedule", "book_study_room"),
    ),
    Tool(
        name="review_flashcards",
        description="Start a flashcard review of one of the user's decks, optionally limited to a "
                    "number of cards and shuffled.",
        params=(
            Param("deck", "string", "Flashcard deck to review.", "text:flashcard_deck"),
            Param("card_count", "integer", "How many cards to review; the whole deck if omitted.", "int:5:50",
                  required=False),
            Param("shuffle", "boolean", "Whether to present cards in random order.", "bool", required=False,
                  surfaces={"true": ("shuffled", "in random order"), "false": ("in order", "without shuffling")}),
        ),
        templates=(
            "quiz me on my {deck} flashcards",
            "review the {deck} deck",
            "go through {card_count} cards from {deck}",
            "start flashcards: {deck}, {shuffle}",
            "let's do {card_count} of the {deck} cards {shuffle}",
            "open my {deck} deck and test me",
            "I want to practice the {deck} flashcards {shuffle}",
            "drill me on {deck}",
        ),
        indirect=(
            "my {deck} quiz is tomorrow and I barely remember any of it",
            "waiting for the bus, might as well run through {card_count} of the {deck} cards",
        ),
        near_miss=("generate_practice_quiz",),
    ),
    Tool(
        name="explain_concept",
        description="Explain an academic concept in plain language at a chosen depth.",
        params=(
            Param("concept", "string", "Concept to explain.", "text:study_term"),
            Param("depth", "string", "How much detail to give.", "enum", required=False,
                  enum=("brief", "detailed", "simple"),
                  surfaces={"brief": ("short", "quick"), "detailed": ("thorough", "in-depth"),
                            "simple": ("basic", "easy")}),
        ),
        templates=(
            "explain {concept}",
            "what is {concept}",
            "help me understand {concept}",
            "give me the {depth} version of {concept}",
            "I need the {depth} explanation of {concept}",
            "can you break down {concept} for me",
            "what does {concept} mean, {depth} version please",
            "teach me about {concept}",
        ),
        indirect=(
            "my textbook's section on {concept} makes no sense to me",
            "the lecture skipped over {concept} and the exam covers it, I just need the {depth} version",
        ),
        near_miss=("generate_practice_quiz", "review_flashcards"),
    ),
    Tool(
        name="generate_practice_quiz",
        description="Generate a practice quiz on a subject with a chosen number of questions and difficulty.",
        params=(
            Param("subject", "string", "Subject of the quiz.", "text:subject"),
            Param("question_count", "integer", "Number of questions; 10 if omitted.", "int:5:30",
                  required=False),
            Param("difficulty", "string", "Question difficulty.", "enum", required=False,
                  enum=("easy", "medium", "hard"),
                  surfaces={"easy": ("beginner", "simple"), "medium": ("moderate", "intermediate"),
                            "hard": ("challenging", "tough")}),
        ),
        templates=(
            "make me a practice quiz on {subject}",
            "give me {question_count} {difficulty} questions on {subject}",
            "create a quiz about {subject} with {question_count} questions",
            "generate {difficulty} practice questions for {subject}",
            "test my {subject} knowledge with {question_count} questions",
            "I want a practice test in {subject}, difficulty {difficulty}",
            "put together {question_count} practice questions about {subject}",
            "quiz me on {subject}, {difficulty} level",
        ),
        indirect=(
            "midterm in {subject} on Friday and I have no idea if I'm ready",
            "I think I finally get {subject}, but I want to check myself with {question_count} questions",
        ),
        near_miss=("review_flashcards", "explain_concept"),
    ),
    Tool(
        name="log_study_time",
        description="Add already completed study time for a subject to the weekly study log.",
        params=(
            Param("subject", "string", "Subject studied.", "text:subject"),
            Param("duration_minutes", "integer", "Time studied, in minutes.", "duration_min"),
        ),
        templates=(
            "log {duration_minutes} of {subject}",
            "I studied {subject} for {duration_minutes}",
            "add {duration_minutes} of study time to {subject}",
            "record my {subject} session, it lasted {duration_minutes}",
            "track {duration_minutes} spent on {subject}",
            "put {duration_minutes} of {subject} in my study log",
            "note that I did {duration_minutes} of {subject} today",
        ),
        indirect=(
            "finally done, that was {duration_minutes} of {subject} and I want credit for it",
            "just wrapped up {duration_minutes} on {subject}; my weekly total should show it",
        ),
        near_miss=("start_study_session",),
    ),
    Tool(
        name="calculate_final_exam_target",
        description="Work out the score needed on a final exam to reach a target course grade.",
        params=(
            Param("current_grade", "integer", "Current course grade, in percent.", "int:40:100"),
            Param("target_grade", "integer", "Desired final course grade, in percent.", "int:50:100"),
            Param("final_weight", "integer", "Share of the course grade the final is worth, in percent; "
                  "25 if omitted.", "int:10:60", required=False),
        ),
        templates=(
            "what do I need on the final to get {target_grade} percent if I'm at {current_grade} percent",
            "I'm sitting at {current_grade} percent and want to finish with {target_grade} percent, "
            "the final is {final_weight} percent of the grade",
            "calculate the final exam score I need: current {current_grade} percent, goal {target_grade} percent",
            "current grade {current_grade} percent, target {target_grade} percent, final counts "
            "{final_weight} percent, what score do I need",
            "how well do I have to do on the final to go from {current_grade} percent to {target_grade} percent",
            "figure out my required final score, I have {current_grade} percent now and I'm aiming for "
            "{target_grade} percent",
            "final exam math: {current_grade} percent now, want {target_grade} percent, exam weight "
            "{final_weight} percent",
        ),
        indirect=(
            "I really need {target_grade} percent in this class to keep my scholarship, and right now "
            "I've got {current_grade} percent",
            "my parents expect {target_grade} percent overall; I'm at {current_grade} percent and the final "
            "is worth {final_weight} percent",
        ),
        near_miss=("generate_practice_quiz",),
    ),
    Tool(
        name="book_study_room",
        description="Reserve a library study room for a day and start time, optionally for a length "
                    "of time and group size.",
        params=(
            Param("day", "string", "Day of the booking.", "day"),
            Param("time", "string", "Start time, 24-hour HH:MM.", "time"),
            Param("duration_minutes", "integer", "How long to hold the room; one hour if omitted.",
                  "duration_min", required=False),
            Param("group_size", "integer", "Number of people using the room.", "int:2:10", required=False),
        ),
        templates=(
            "book a study room for {day} at {time}",
            "reserve a library room {day} at {time} for {duration_minutes}",
            "I need a study room at {time} {day} for {group_size} people",
            "get me a group study room {day}, {time}, {group_size} of us",
            "can you reserve a quiet room at the library for {day} at {time}",
            "study room booking: {day}, {time}, {duration_minutes}",
            "grab a room for {group_size} people at {time} {day}",
        ),
        indirect=(
            "my project group wants to meet {day} at {time} and we need somewhere quiet",
            "the library is always packed; make sure there's a room waiting for us {day} at {time}",
        ),
        near_miss=("start_study_session", "check_class_schedule"),
    ),
    Tool(
        name="generate_citation",
        description="Produce a formatted bibliography citation for a book in a chosen citation style.",
        params=(
            Param("source_title", "string", "Title of the book being cited.", "text:source_title"),
            Param("style", "string", "Citation style; APA if omitted.", "enum", required=False,
                  enum=("apa", "mla", "chicago", "harvard"),
                  surfaces={"apa": ("APA",), "mla": ("MLA",), "chicago": ("Chicago",), "harvard": ("Harvard",)}),
        ),
        templates=(
            "cite {source_title}",
            "make a citation for {source_title} in {style}",
            "give me the {style} citation for {source_title}",
            "how do I cite {source_title}",
            "I need a bibliography entry for {source_title}",
            "reference for {source_title}, {style} format please",
            "cite {source_title} using {style}",
            "format {source_title} for my works cited page in {style} style",
        ),
        indirect=(
            "my essay quotes {source_title} and the bibliography still isn't done",
            "the teacher wants every source in {style} format and I used {source_title}",
        ),
        near_miss=("explain_concept",),
    ),
    Tool(
        name="check_class_schedule",
        description="List the classes and lectures on the user's timetable for a day.",
        params=(
            Param("day", "string", "Day to look up.", "day"),
        ),
        templates=(
            "what classes do I have {day}",
            "show my class schedule for {day}",
            "what's on my timetable {day}",
            "any lectures {day}?",
            "when is my first class {day}",
            "list my classes for {day}",
            "do I have class {day}",
        ),
        indirect=(
            "thinking of sleeping in {day}, do I have anything early",
            "my friend wants to hang out {day}, am I stuck in lectures",
        ),
        near_miss=("add_assignment_deadline", "book_study_room"),
    ),
)

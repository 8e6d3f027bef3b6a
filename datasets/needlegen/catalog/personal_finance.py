"""Personal finance and budgeting: expenses, income, balances, transfers, budgets, bills,
payment requests and savings goals."""

from ..schema import Param, Tool

CATEGORY = "personal_finance"
TITLE = "Personal finance and budgeting"

POOLS = {
    "merchant": ("Trader Joe's", "Target", "Shell", "Starbucks", "Costco", "Whole Foods", "Amazon", "IKEA",
                 "Uber", "Walgreens", "Chipotle", "Home Depot", "Best Buy", "the farmers market", "CVS",
                 "Lidl", "the corner deli", "Delta", "the cinema", "Sephora", "Safeway", "the pharmacy",
                 "the hardware store", "the bakery", "the gas station"),
    # Written to sit in "the {biller} bill".
    "biller": ("electricity", "water", "internet", "phone", "gas", "car insurance", "home insurance",
               "Visa card", "student loan", "mortgage", "cable", "trash collection", "daycare",
               "property tax", "sewer", "health insurance", "car loan", "renter's insurance", "Mastercard",
               "dentist", "parking permit", "piano lessons", "HOA", "alarm monitoring"),
    # Written to sit in "toward my {goal}".
    "savings_goal": ("emergency fund", "Japan trip", "new laptop", "wedding", "house deposit", "new car",
                     "summer vacation", "Christmas gifts", "college fund", "home renovation", "new bike",
                     "rainy day fund", "kitchen remodel", "honeymoon", "camera upgrade", "dental work",
                     "moving costs", "baby fund", "new phone", "road trip", "anniversary trip",
                     "Europe backpacking trip", "roof repair"),
    "money_reason": ("dinner last night", "the concert tickets", "the Uber home", "half the groceries",
                     "gas money", "the electricity share", "movie tickets", "the pizza", "the hotel room",
                     "Mom's birthday gift", "this month's rent share", "the cabin deposit", "coffee",
                     "the ski passes", "the taxi", "brunch", "the wifi bill", "the game tickets",
                     "the parking", "the group present", "bowling", "lunch on Friday"),
}

_ACCOUNT = dict(
    enum=("checking", "savings", "credit_card", "brokerage"),
    surfaces={"checking": ("current account", "everyday account"), "savings": ("savings account",),
              "credit_card": ("credit card", "card"), "brokerage": ("investment account", "investments")},
)

_SPEND_CATEGORY = dict(
    enum=("groceries", "dining", "transport", "rent", "utilities", "entertainment", "health", "shopping",
          "travel"),
    surfaces={"dining": ("eating out", "restaurants"), "transport": ("transportation", "commuting"),
              "utilities": ("utility bills",), "entertainment": ("fun stuff", "going out"),
              "health": ("medical", "healthcare"), "travel": ("trips",)},
)

TOOLS = (
    Tool(
        name="add_expense",
        description="Record a purchase in the budget tracker under a spending category, optionally "
                    "with the merchant.",
        params=(
            Param("amount", "number", "Amount spent, in dollars.", "money"),
            Param("category", "string", "Budget category of the purchase.", "enum", **_SPEND_CATEGORY),
            Param("merchant", "string", "Where the money was spent.", "text:merchant", required=False),
        ),
        templates=(
            "log {amount} for {category}",
            "add an expense of {amount} under {category}",
            "I spent {amount} on {category}",
            "record {amount} at {merchant} as {category}",
            "expense: {amount}, {category}, {merchant}",
            "put {amount} from {merchant} in my {category} spending",
            "track {amount} spent on {category}",
            "just paid {amount} at {merchant} for {category}, add it to my budget",
        ),
        indirect=(
            "{merchant} took {amount} from me for {category} today and I keep forgetting to track things",
            "my {category} spending just went up by {amount}, I need my budget to stay honest",
        ),
        near_miss=("pay_bill", "log_income"),
    ),
    Tool(
        name="log_income",
        description="Record money received in the budget tracker, optionally tagged with its source.",
        params=(
            Param("amount", "number", "Amount received, in dollars.", "money"),
            Param("source", "string", "Kind of income.", "enum", required=False,
                  enum=("salary", "freelance", "bonus", "refund", "gift", "interest"),
                  surfaces={"salary": ("paycheck", "wages"), "freelance": ("freelance work",),
                            "gift": ("gift money",), "interest": ("bank interest",)}),
        ),
        templates=(
            "I got paid {amount}",
            "log {amount} of income",
            "add {amount} to my income as {source}",
            "record {amount} coming in, {source}",
            "I just received {amount}, mark it as {source}",
            "income: {amount}",
            "note down {amount} earned, source {source}",
            "put {amount} in the income column under {source}",
        ),
        indirect=(
            "my client finally paid the invoice, {amount} landed this morning",
            "grandma sent {amount} for my birthday and I want my numbers to be right",
        ),
        near_miss=("add_expense", "request_money"),
    ),
    Tool(
        name="check_account_balance",
        description="Get the current balance of one of the user's bank or card accounts.",
        params=(
            Param("account", "string", "Which account to check.", "enum", **_ACCOUNT),
        ),
        templates=(
            "what's my {account} balance",
            "how much is in my {account}",
            "check my {account} balance",
            "show me the balance on {account}",
            "{account} balance please",
            "tell me what's left in my {account}",
            "how's my {account} looking right now",
        ),
        indirect=(
            "I'm about to buy a new couch, is there enough in my {account}",
            "rent goes out tomorrow and I'm nervous my {account} is running low",
        ),
        near_miss=("get_spending_summary", "transfer_between_accounts"),
    ),
    Tool(
        name="transfer_between_accounts",
        description="Move money between two of the user's own accounts.",
        params=(
            Param("amount", "number", "Amount to move, in dollars.", "money"),
            Param("from_account", "string", "Account the money leaves.", "enum", **_ACCOUNT),
            Param("to_account", "string", "Account the money goes into.", "enum", **_ACCOUNT),
        ),
        templates=(
            "move {amount} from {from_account} to {to_account}",
            "transfer {amount} into {to_account} from {from_account}",
            "put {amount} from my {from_account} into {to_account}",
            "shift {amount} over from {from_account} to {to_account}",
            "can you transfer {amount} out of {from_account} and into {to_account}",
            "I want {amount} moved to {to_account} from {from_account}",
            "send {amount} from {from_account} over to {to_account}",
        ),
        indirect=(
            "a payment comes out of my {to_account} tomorrow and it's {amount} short; {from_account} has plenty",
            "I've got a bonus sitting in my {from_account} and {amount} of it should go toward the {to_account}",
        ),
        near_miss=("add_to_savings_goal", "pay_bill"),
    ),
    Tool(
        name="set_category_budget",
        description="Set a spending limit for a budget category over a week, month or year.",
        params=(
            Param("category", "string", "Budget category to limit.", "enum", **_SPEND_CATEGORY),
            Param("limit", "number", "Maximum to spend in the period, in dollars.", "money"),
            Param("period", "string", "Budget period; monthly if omitted.", "enum", required=False,
                  enum=("weekly", "monthly", "yearly"),
                  surfaces={"weekly": ("a week", "per week"), "monthly": ("a month", "per month"),
                            "yearly": ("a year", "per year")}),
        ),
        templates=(
            "set my {category} budget to {limit}",
            "cap {category} at {limit} {period}",
            "budget {limit} {period} for {category}",
            "I don't want to spend more than {limit} on {category}",
            "limit {category} spending to {limit} {period}",
            "new budget: {category}, {limit} {period}",
            "allow {limit} for {category} {period}",
            "make {limit} the ceiling for {category}",
        ),
        indirect=(
            "I blew way too much on {category} last month; from now on {limit} is the most I'll allow",
            "my partner and I agreed that {category} gets {limit} {period}, no more",
        ),
        near_miss=("get_spending_summary", "create_savings_goal"),
    ),
    Tool(
        name="get_spending_summary",
        description="Summarise spending over a period, in total or for one budget category.",
        params=(
            Param("period", "string", "Time span to summarise.", "enum",
                  enum=("this_week", "last_week", "this_month", "last_month", "this_year")),
            Param("category", "string", "Only this budget category.", "enum", required=False,
                  **_SPEND_CATEGORY),
        ),
        templates=(
            "how much did I spend {period}",
            "show my spending {period}",
            "spending summary for {period}",
            "what did I spend on {category} {period}",
            "break down my {category} spending {period}",
            "give me a spending report for {period}",
            "how much went on {category} {period}?",
            "total spending {period}, please",
        ),
        indirect=(
            "I feel like money just vanished {period}, where did it all go",
            "my card statement looks huge, what happened with {category} {period}",
        ),
        near_miss=("check_account_balance", "set_category_budget"),
    ),
    Tool(
        name="pay_bill",
        description="Pay a saved biller from the checking account, optionally a specific amount or on "
                    "a scheduled date.",
        params=(
            Param("biller", "string", "Saved biller to pay.", "text:biller"),
            Param("amount", "number", "Amount to pay; the full statement balance if omitted.", "money",
                  required=False),
            Param("date", "string", "Date to send the payment, YYYY-MM-DD; today if omitted.", "date",
                  required=False),
        ),
        templates=(
            "pay the {biller} bill",
            "pay my {biller} bill",
            "pay {amount} toward the {biller} bill",
            "schedule the {biller} payment for {date}",
            "pay the {biller} bill on {date}, {amount}",
            "settle my {biller} bill",
            "can you take care of the {biller} bill",
            "send the {biller} payment of {amount}",
        ),
        indirect=(
            "the {biller} bill is due {date} and I really don't want another late fee",
            "I got a notice that I still owe {amount} on the {biller} bill",
        ),
        near_miss=("add_expense", "request_money"),
    ),
    Tool(
        name="request_money",
        description="Send a contact a payment request through the payments app, optionally with a reason.",
        params=(
            Param("person", "string", "Contact who should pay.", "person"),
            Param("amount", "number", "Amount requested, in dollars.", "money"),
            Param("reason", "string", "What the money is for, shown to the contact.", "text:money_reason",
                  required=False),
        ),
        templates=(
            "request {amount} from {person}",
            "ask {person} to pay me {amount}",
            "send {person} a payment request for {amount} for {reason}",
            "charge {person} {amount} for {reason}",
            "{person} owes me {amount}, send a request",
            "can you request {amount} from {person} for {reason}",
            "bill {person} {amount}",
            "I need {amount} back from {person}, put in a request",
        ),
        indirect=(
            "I covered {reason} for {person} and never got the {amount} back",
            "{person} still hasn't settled up the {amount} from {reason}",
        ),
        near_miss=("pay_bill", "send_text_message"),
    ),
    Tool(
        name="add_to_savings_goal",
        description="Move money into an existing savings goal.",
        params=(
            Param("goal", "string", "Name of the savings goal.", "text:savings_goal"),
            Param("amount", "number", "Amount to put aside, in dollars.", "money"),
        ),
        templates=(
            "add {amount} to my {goal} goal",
            "put {amount} toward the {goal}",
            "save {amount} for the {goal}",
            "move {amount} into {goal} savings",
            "contribute {amount} to {goal}",
            "I want to put {amount} aside for my {goal}",
            "deposit {amount} in the {goal} pot",
        ),
        indirect=(
            "I had a good week, so {amount} of it should go to my {goal}",
            "I skipped takeout all month; stash the {amount} I saved for the {goal}",
        ),
        near_miss=("create_savings_goal", "transfer_between_accounts"),
    ),
    Tool(
        name="create_savings_goal",
        description="Create a new savings goal with a target amount and optional deadline.",
        params=(
            Param("goal", "string", "Name for the new goal.", "text:savings_goal"),
            # Goals run to thousands, beyond the everyday amounts of the money kind.
            Param("target_amount", "number", "Total to save, in dollars.", "number:500:20000:50"),
            Param("deadline", "string", "Date to reach the target by, YYYY-MM-DD.", "date", required=False),
        ),
        templates=(
            "create a savings goal for my {goal} of {target_amount} dollars",
            "start saving for the {goal}, target ${target_amount}",
            "new goal: {goal}, {target_amount} dollars by {deadline}",
            "I want to save ${target_amount} for my {goal}",
            "set up a goal called {goal} for {target_amount} bucks",
            "help me save {target_amount} dollars for the {goal} by {deadline}",
            "make a savings target of ${target_amount} for {goal}",
        ),
        indirect=(
            "the {goal} is going to cost about {target_amount} dollars, I need to start putting money away",
            "we're planning the {goal} for {deadline} and need ${target_amount} by then",
        ),
        near_miss=("add_to_savings_goal", "set_category_budget"),
    ),
)

"""Subscription and account management: streaming, software and membership plans."""

from ..schema import Param, Tool

CATEGORY = "subscriptions_accounts"
TITLE = "Subscription and account management"

POOLS = {
    # Names read naturally after "my" and before "subscription" / "account".
    "service": ("Netflix", "Spotify", "Disney Plus", "Hulu", "YouTube Premium", "Apple Music", "Amazon Prime",
                "HBO Max", "Audible", "Xbox Game Pass", "PlayStation Plus", "Dropbox", "iCloud", "Google One",
                "Adobe Creative Cloud", "Microsoft 365", "Peloton", "Headspace", "Paramount Plus",
                "Crunchyroll", "Kindle Unlimited", "HelloFresh", "Strava", "Calm", "Nintendo Switch Online",
                "Tidal"),
    "plan_tier": ("basic", "standard", "premium", "family", "student", "duo", "individual", "ad-supported",
                  "ad-free", "pro", "business", "starter", "plus", "ultimate", "essentials", "premium family",
                  "team", "lite", "standard with ads", "personal", "unlimited", "deluxe"),
    "payment_method": ("PayPal", "Apple Pay", "Google Pay", "my Visa ending in 4421", "my debit card",
                       "the Amex ending in 1008", "the Mastercard ending in 3391", "my business credit card",
                       "the card ending in 7720", "my checking account", "my new Visa", "the joint account card",
                       "my Discover card", "the company card", "my savings account", "the prepaid card",
                       "the Mastercard I just added", "my work Amex", "Venmo", "the card on file for Amazon",
                       "my Chase card", "my credit union debit card"),
}

_CANCEL_REASON = Param(
    "reason", "string", "Optional reason for leaving, used for the exit survey.", "enum", required=False,
    enum=("too_expensive", "not_using_it", "switching_service", "technical_problems", "temporary_break"),
    surfaces={"too_expensive": ("it costs too much", "it's too pricey"),
              "not_using_it": ("I never use it", "I don't use it anymore"),
              "switching_service": ("I'm switching to something else", "I'm moving to another service"),
              "technical_problems": ("it keeps breaking", "the app never works"),
              "temporary_break": ("I just need a break from it",)},
)

TOOLS = (
    Tool(
        name="cancel_subscription",
        description="Cancel a paid subscription so it does not renew; access normally lasts until the end of "
                    "the current billing period.",
        params=(
            Param("service", "string", "Name of the subscribed service.", "text:service"),
            Param("end_immediately", "boolean",
                  "End access right away and request a prorated refund instead of waiting for the period "
                  "to run out.", "bool", required=False,
                  surfaces={"true": ("right now", "effective immediately", "starting today"),
                            "false": ("at the end of the billing cycle", "once this month runs out",
                                      "when the current period ends")}),
            _CANCEL_REASON,
        ),
        templates=(
            "cancel my {service} subscription",
            "unsubscribe me from {service}",
            "I want to cancel {service} {end_immediately}",
            "can you stop my {service} membership {end_immediately}",
            "cancel {service}, the reason is {reason}",
            "please end my {service} plan, reason: {reason}",
            "get rid of {service} for me",
            "how do I cancel {service}? just do it {end_immediately}",
            "terminate the {service} subscription {end_immediately}, {reason}",
        ),
        indirect=(
            "I haven't opened {service} in months and it's still charging me, make it stop",
            "I'm done with {service}, honestly {reason}",
            "I'm done paying for {service}, shut it off {end_immediately}",
        ),
        near_miss=("pause_subscription", "change_subscription_plan"),
    ),
    Tool(
        name="pause_subscription",
        description="Temporarily pause billing for a subscription for a number of months, keeping the account "
                    "and its history; it resumes automatically afterwards.",
        params=(
            Param("service", "string", "Name of the subscribed service.", "text:service"),
            Param("months", "integer", "How many months to pause before billing resumes.", "int:2:6"),
        ),
        templates=(
            "pause my {service} subscription for {months} months",
            "put {service} on hold for {months} months",
            "can you freeze my {service} membership for {months} months",
            "I'd like to pause {service} for the next {months} months",
            "suspend {service} billing for {months} months please",
            "hold my {service} plan for {months} months instead of cancelling",
            "pause {service}, {months} months",
            "is it possible to skip {months} months of {service}",
        ),
        indirect=(
            "I'm travelling for {months} months and won't use {service}, but I don't want to lose my account",
            "money is tight for the next {months} months, can {service} just stop charging me until then",
        ),
        near_miss=("cancel_subscription",),
    ),
    Tool(
        name="change_subscription_plan",
        description="Switch an existing subscription to a different plan tier or billing cycle.",
        params=(
            Param("service", "string", "Name of the subscribed service.", "text:service"),
            Param("plan", "string", "The plan tier to switch to, as the service names it.", "text:plan_tier"),
            Param("billing_cycle", "string", "Optional billing frequency for the new plan.", "enum",
                  required=False, enum=("monthly", "annual"),
                  surfaces={"monthly": ("month to month", "per month"), "annual": ("yearly", "per year")}),
        ),
        templates=(
            "switch my {service} to the {plan} plan",
            "change {service} to {plan}",
            "upgrade my {service} subscription to {plan}",
            "move {service} to the {plan} tier, billed {billing_cycle}",
            "can I go down to {plan} on {service}",
            "I want the {plan} plan for {service} {billing_cycle}",
            "put my {service} account on {plan} and bill it {billing_cycle}",
            "downgrade {service} to the {plan} option",
        ),
        indirect=(
            "my whole family wants to use {service} now, so the {plan} plan makes more sense",
            "I'm paying too much for {service}, {plan} would be enough for me",
        ),
        near_miss=("cancel_subscription", "start_free_trial"),
    ),
    Tool(
        name="list_active_subscriptions",
        description="List every subscription currently billing the user, with price and next renewal date.",
        params=(
            Param("sort_by", "string", "Optional ordering of the list.", "enum", required=False,
                  enum=("price", "renewal_date", "name"),
                  surfaces={"price": ("cost", "how much they cost"),
                            "renewal_date": ("next renewal", "when they renew"),
                            "name": ("service name", "alphabetical order")}),
            Param("include_trials", "boolean", "Whether free trials that have not started billing are listed too.",
                  "bool", required=False,
                  surfaces={"true": ("including free trials", "with the trials too"),
                            "false": ("without the free trials", "paid ones only")}),
        ),
        templates=(
            "what subscriptions am I paying for",
            "list my active subscriptions",
            "show all my subscriptions sorted by {sort_by}",
            "which services am I subscribed to right now, {include_trials}",
            "give me every recurring subscription, {include_trials}",
            "show my subscriptions by {sort_by}, {include_trials}",
            "what am I subscribed to",
            "pull up my subscription list ordered by {sort_by}",
        ),
        indirect=(
            "I feel like I'm paying for a bunch of streaming stuff I forgot about",
            "my card statement has so many small recurring charges, what are they all for",
        ),
        near_miss=("check_subscription_renewal",),
    ),
    Tool(
        name="check_subscription_renewal",
        description="Look up when a subscription renews next and how much the renewal will charge.",
        params=(
            Param("service", "string", "Name of the subscribed service.", "text:service"),
        ),
        templates=(
            "when does my {service} subscription renew",
            "what's the next billing date for {service}",
            "how much will {service} charge me next time",
            "check the renewal date on {service}",
            "when am I getting billed for {service} again",
            "tell me when {service} renews and the price",
            "{service} renewal date",
        ),
        indirect=(
            "I want to make sure there's money in my account before {service} takes its payment",
            "I can't remember if {service} already charged me this month",
        ),
        near_miss=("set_renewal_reminder", "list_active_subscriptions"),
    ),
    Tool(
        name="update_subscription_payment_method",
        description="Change the card or payment account a subscription is billed to.",
        params=(
            Param("service", "string", "Name of the subscribed service.", "text:service"),
            Param("payment_method", "string", "The payment method to bill from now on.", "text:payment_method"),
        ),
        templates=(
            "change the payment method for {service} to {payment_method}",
            "bill {service} to {payment_method} from now on",
            "update my {service} card to {payment_method}",
            "can you switch {service} over to {payment_method}",
            "I want {service} to charge {payment_method} instead",
            "use {payment_method} for my {service} subscription",
            "set {payment_method} as the payment for {service}",
        ),
        indirect=(
            "my old card expired and {service} payment failed, it should go on {payment_method} now",
            "I'd rather keep {service} on {payment_method} so it's separate from my other bills",
        ),
        near_miss=("change_subscription_plan",),
    ),
    Tool(
        name="reset_account_password",
        description="Start a password reset for an online account by sending a reset link or code.",
        params=(
            Param("service", "string", "The account's service.", "text:service"),
            Param("send_to", "string", "Optional channel for the reset link or code.", "enum", required=False,
                  enum=("email", "sms"),
                  surfaces={"email": ("my email", "my inbox"), "sms": ("text message", "my phone")}),
        ),
        templates=(
            "reset my {service} password",
            "I forgot my {service} password",
            "send me a password reset for {service} by {send_to}",
            "can you help me reset the password on my {service} account",
            "I need a new {service} password, send the link by {send_to}",
            "start a password reset for {service}",
            "reset the {service} login and send the code via {send_to}",
            "how do I get back into {service}, I need to reset the password",
        ),
        indirect=(
            "I'm locked out of {service} and none of my usual passwords work",
            "{service} says my password is wrong, send a code by {send_to} so I can get back in",
        ),
        near_miss=("enable_two_factor_auth",),
    ),
    Tool(
        name="set_renewal_reminder",
        description="Get a reminder a number of days before a subscription renews, e.g. to cancel a trial in time.",
        params=(
            Param("service", "string", "Name of the subscribed service.", "text:service"),
            Param("days_before", "integer", "How many days before the renewal the reminder fires.", "int:2:14"),
        ),
        templates=(
            "remind me {days_before} days before {service} renews",
            "set a renewal reminder for {service}, {days_before} days ahead",
            "warn me {days_before} days before my {service} charge",
            "can you ping me {days_before} days before {service} bills me",
            "I want a heads-up {days_before} days before the {service} renewal",
            "{service} renewal reminder {days_before} days early please",
            "alert me {days_before} days ahead of the next {service} payment",
        ),
        indirect=(
            "I always forget to cancel {service} before it renews, give me {days_before} days warning next time",
            "I might drop {service} soon, so I'd like {days_before} days notice before it charges again",
        ),
        near_miss=("check_subscription_renewal", "set_alarm"),
    ),
    Tool(
        name="start_free_trial",
        description="Start a free trial of a service, optionally on a specific plan tier.",
        params=(
            Param("service", "string", "The service to try.", "text:service"),
            Param("plan", "string", "Optional plan tier to trial.", "text:plan_tier", required=False),
        ),
        templates=(
            "start a free trial of {service}",
            "sign me up for the {service} trial",
            "I want to try {service} for free",
            "start the {plan} trial on {service}",
            "can I get a free trial of {service} {plan}",
            "activate the free {service} trial on the {plan} plan",
            "try {service} free for a month",
            "is there a free trial for {service}? start it",
        ),
        indirect=(
            "my friends won't stop recommending {service}, I'd like to check it out without paying yet",
            "I want to test {service} on the {plan} plan before I commit to anything",
        ),
        near_miss=("change_subscription_plan",),
    ),
    Tool(
        name="enable_two_factor_auth",
        description="Turn on two-factor authentication for an account so logins need a second step.",
        params=(
            Param("service", "string", "The account's service.", "text:service"),
            Param("method", "string", "Optional second factor to use.", "enum", required=False,
                  enum=("authenticator_app", "sms", "security_key"),
                  surfaces={"authenticator_app": ("an authenticator app", "Google Authenticator"),
                            "sms": ("text messages", "SMS codes"),
                            "security_key": ("my YubiKey", "a hardware key")}),
        ),
        templates=(
            "turn on two-factor authentication for {service}",
            "enable 2FA on my {service} account",
            "set up two-step verification on {service} using {method}",
            "can you secure my {service} login with {method}",
            "add two-factor to {service}",
            "I want {service} to ask for a code when I log in, use {method}",
            "switch on 2-step login for {service} with {method}",
            "protect my {service} account with two-factor",
        ),
        indirect=(
            "someone tried to log into my {service} account from another country",
            "a password alone doesn't feel safe enough for {service}, add {method} as a second step",
        ),
        near_miss=("reset_account_password",),
    ),
)

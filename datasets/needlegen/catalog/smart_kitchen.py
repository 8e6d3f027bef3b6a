"""Smart kitchen appliances: oven, air fryer, microwave, coffee machine, kettle, dishwasher,
plus the recipe and shopping-list helpers that usually sit in the same kitchen app."""

from ..schema import Param, Tool

CATEGORY = "smart_kitchen"
TITLE = "Smart kitchen appliances"

POOLS = {
    "recipe": ("banana bread", "chicken tikka masala", "vegetable lasagna", "lemon drizzle cake",
               "beef stew", "mushroom risotto", "pad thai", "shakshuka", "blueberry muffins",
               "french onion soup", "chili con carne", "roast chicken", "carrot cake", "pumpkin soup",
               "spaghetti carbonara", "falafel wraps", "sourdough loaf", "apple crumble", "fish tacos",
               "ratatouille", "butter chicken", "minestrone", "cinnamon rolls", "quiche lorraine",
               "tomato basil pasta", "chocolate chip cookies"),
    "grocery_item": ("eggs", "oat milk", "butter", "baby spinach", "cheddar cheese", "coffee beans",
                     "greek yogurt", "olive oil", "bananas", "sourdough bread", "chicken thighs",
                     "basmati rice", "cherry tomatoes", "red onions", "garlic", "frozen peas",
                     "maple syrup", "almond flour", "avocados", "parmesan", "dish soap", "lemons",
                     "paper towels", "brown sugar", "tortillas"),
    # Ingredients that people actually convert between weight and volume.
    "baking_ingredient": ("all-purpose flour", "granulated sugar", "butter", "rolled oats", "cocoa powder",
                          "honey", "powdered sugar", "brown sugar", "rice", "almond flour",
                          "bread flour", "chocolate chips", "grated parmesan", "peanut butter",
                          "cornstarch", "shredded coconut", "raisins", "olive oil", "milk",
                          "chopped walnuts", "maple syrup", "semolina", "yogurt", "baking soda"),
}

TOOLS = (
    Tool(
        name="preheat_oven",
        description="Preheat the smart oven to a target temperature in degrees, optionally choosing "
                    "the heating mode.",
        params=(
            Param("temperature", "integer", "Target oven temperature in degrees Celsius.", "int:120:250"),
            Param("mode", "string", "Heating mode; regular bake if omitted.", "enum", required=False,
                  enum=("bake", "convection", "fan_forced", "broil"),
                  surfaces={"bake": ("regular bake", "conventional"), "convection": ("convection bake",),
                            "fan_forced": ("fan",), "broil": ("grill", "top heat")}),
        ),
        templates=(
            "preheat the oven to {temperature} degrees",
            "heat the oven up to {temperature}",
            "can you get the oven to {temperature} degrees",
            "oven on, {temperature} degrees, {mode} mode",
            "preheat to {temperature} on {mode}",
            "I want the oven at {temperature} degrees using {mode}",
            "start preheating the oven, {temperature} degrees please",
            "warm up the oven to {temperature} on the {mode} setting",
            "set the oven for {temperature}",
        ),
        indirect=(
            "the recipe says {temperature} degrees and I'm almost done mixing the batter",
            "the frozen pizza box says {temperature} degrees with {mode}, I'll put it in soon",
            "I'm roasting vegetables at {temperature} tonight and want the oven ready when I get home",
        ),
        near_miss=("start_air_fryer", "start_microwave"),
    ),
    Tool(
        name="start_air_fryer",
        description="Run the air fryer for a set time, optionally at a chosen temperature and with a "
                    "mid-cook reminder to shake the basket.",
        params=(
            # Real air-fryer times are short, so a plain minute count reads better than long durations.
            Param("duration_minutes", "integer", "Cooking time in minutes.", "int:3:40"),
            Param("temperature", "integer", "Air fryer temperature in degrees Celsius; 180 if omitted.",
                  "int:80:200", required=False),
            Param("shake_reminder", "boolean", "Whether to beep halfway so the basket can be shaken.",
                  "bool", required=False,
                  surfaces={"true": ("and remind me to shake the basket", "with a shake reminder"),
                            "false": ("without a shake reminder", "and skip the shake reminder")}),
        ),
        templates=(
            "run the air fryer for {duration_minutes} minutes",
            "air fry for {duration_minutes} minutes at {temperature} degrees",
            "start the air fryer at {temperature} degrees for {duration_minutes} min",
            "turn on the air fryer for {duration_minutes} minutes {shake_reminder}",
            "can you air fry something for {duration_minutes} minutes",
            "set the air fryer to {temperature} degrees, {duration_minutes} minutes",
            "I need the air fryer going for {duration_minutes} minutes",
            "air fryer, {duration_minutes} minutes at {temperature} degrees {shake_reminder}",
        ),
        indirect=(
            "these frozen fries need {duration_minutes} minutes in the basket",
            "the chicken wings want {duration_minutes} minutes at {temperature} degrees, crispy please",
        ),
        near_miss=("preheat_oven", "start_microwave"),
    ),
    Tool(
        name="start_microwave",
        description="Start the microwave for a given time, optionally at reduced power or in defrost "
                    "or reheat mode.",
        params=(
            Param("duration_minutes", "integer", "How long the microwave runs, in minutes.", "int:2:15"),
            Param("power_percent", "integer", "Power level as a percentage of full power.", "percent",
                  required=False),
            Param("mode", "string", "Program to run; plain cooking if omitted.", "enum", required=False,
                  enum=("cook", "defrost", "reheat"),
                  surfaces={"defrost": ("thaw",), "reheat": ("warm up",)}),
        ),
        templates=(
            "microwave this for {duration_minutes} minutes",
            "run the microwave for {duration_minutes} minutes at {power_percent} power",
            "nuke it for {duration_minutes} minutes",
            "start the microwave, {duration_minutes} min",
            "put the microwave on {mode} for {duration_minutes} minutes",
            "heat it up in the microwave for {duration_minutes} minutes",
            "microwave {duration_minutes} minutes on {power_percent} power",
            "I want the microwave running on {mode} for {duration_minutes} minutes at {power_percent} power",
        ),
        indirect=(
            "my soup went cold, it needs {duration_minutes} minutes in the microwave",
            "the frozen lasagna box says {duration_minutes} minutes at {power_percent} power",
            "the chicken is still frozen solid and dinner is soon, it needs {duration_minutes} minutes in the microwave",
        ),
        near_miss=("start_air_fryer", "boil_kettle"),
    ),
    Tool(
        name="brew_coffee",
        description="Brew a drink on the connected coffee machine, with optional cup count and strength.",
        params=(
            Param("drink", "string", "Which drink to brew.", "enum",
                  enum=("espresso", "americano", "latte", "cappuccino", "flat_white", "filter_coffee"),
                  surfaces={"filter_coffee": ("drip coffee", "regular coffee")}),
            Param("cups", "integer", "How many cups to make; one if omitted.", "int:2:8", required=False),
            Param("strength", "string", "Brew strength.", "enum", required=False,
                  enum=("mild", "regular", "strong"),
                  surfaces={"mild": ("light", "weak"), "strong": ("extra strong", "bold")}),
        ),
        templates=(
            "brew some {drink}",
            "make {drink} on the coffee machine",
            "start the coffee maker, {drink} please",
            "can the coffee machine do {drink} for me, make it {strength}",
            "I want {cups} cups of {drink}",
            "brew {cups} cups of {drink} and make it {strength}",
            "coffee time, {drink} please",
            "queue up {drink} on the espresso machine",
            "get the machine going with {drink}",
        ),
        indirect=(
            "I'm dragging this morning, I could really use {drink}",
            "guests are coming over and they all want {drink}, that's {cups} cups",
        ),
        near_miss=("boil_kettle",),
    ),
    Tool(
        name="boil_kettle",
        description="Switch on the smart kettle, optionally heating to a specific temperature for tea "
                    "and keeping the water warm afterwards.",
        params=(
            Param("temperature_c", "integer", "Water temperature in degrees Celsius; boiling if omitted.",
                  "int:60:100", required=False),
            Param("keep_warm", "boolean", "Whether to hold the temperature after heating.", "bool",
                  required=False,
                  surfaces={"true": ("and keep it warm", "and hold the temperature"),
                            "false": ("and don't keep it warm", "and turn it off once it's hot")}),
        ),
        templates=(
            "boil the kettle",
            "put the kettle on",
            "heat the kettle to {temperature_c} degrees",
            "kettle to {temperature_c} degrees {keep_warm}",
            "put the kettle on {keep_warm}",
            "can you heat some water to {temperature_c} degrees",
            "switch the kettle on please",
            "I need hot water at {temperature_c} degrees {keep_warm}",
        ),
        indirect=(
            "I'd love a cup of tea right now",
            "green tea wants water at {temperature_c} degrees, can you sort that out",
            "making instant noodles, I'll need hot water soon",
        ),
        near_miss=("brew_coffee", "start_microwave"),
    ),
    Tool(
        name="start_dishwasher",
        description="Start the dishwasher on a chosen wash cycle, optionally delayed and with extra drying.",
        params=(
            Param("cycle", "string", "Wash programme.", "enum",
                  enum=("eco", "normal", "heavy", "quick", "glassware"),
                  surfaces={"heavy": ("heavy duty", "pots and pans"), "quick": ("express", "quick wash"),
                            "glassware": ("delicate", "glass")}),
            Param("delay_minutes", "integer", "Minutes to wait before the cycle starts.", "duration_min",
                  required=False),
            Param("extra_dry", "boolean", "Whether to add a heated drying phase.", "bool", required=False,
                  surfaces={"true": ("with extra drying", "with heated dry"),
                            "false": ("without extra drying", "with no heated dry")}),
        ),
        templates=(
            "run the dishwasher on {cycle}",
            "start the dishwasher, {cycle} cycle",
            "dishwasher on {cycle} {extra_dry}",
            "start the {cycle} wash in {delay_minutes}",
            "can you run the dishes on {cycle} starting in {delay_minutes}",
            "set the dishwasher to {cycle} and delay it by {delay_minutes}",
            "I want the dishwasher going on {cycle} {extra_dry}",
            "kick off the {cycle} program on the dishwasher",
        ),
        indirect=(
            "we had people over last night and every plate we own needs the {cycle} program",
            "electricity is cheaper later, so hold off {delay_minutes} and then wash the dishes on {cycle}",
        ),
        near_miss=("start_microwave",),
    ),
    Tool(
        name="add_to_shopping_list",
        description="Add a grocery or household item to the shared kitchen shopping list.",
        params=(
            Param("item", "string", "The item to buy.", "text:grocery_item"),
            Param("quantity", "integer", "How many packs or units to buy; one if omitted.", "int:2:12",
                  required=False),
        ),
        templates=(
            "put {item} on the shopping list",
            "add {item} to my grocery list",
            "I need {quantity} packs of {item} on the list",
            "shopping list: {item}, times {quantity}",
            "note that we need {item}",
            "can you add {item} to the groceries",
            "grocery list, add {item}, {quantity} of them please",
            "we should buy {item}, put it down",
        ),
        indirect=(
            "we just used the last of the {item}",
            "I opened the cupboard and there's no {item} left",
            "the party's Saturday and we'll need about {quantity} packs of {item}",
        ),
        near_miss=("find_recipe", "add_expense"),
    ),
    Tool(
        name="find_recipe",
        description="Search the recipe library for a dish, optionally filtered by diet and maximum "
                    "total cooking time.",
        params=(
            Param("dish", "string", "Dish to find recipes for.", "text:recipe"),
            Param("max_minutes", "integer", "Longest acceptable total time, in minutes.", "duration_min",
                  required=False),
            Param("diet", "string", "Dietary restriction the recipe must meet.", "enum", required=False,
                  enum=("vegetarian", "vegan", "gluten_free", "dairy_free", "low_carb")),
        ),
        templates=(
            "find a recipe for {dish}",
            "how do I make {dish}",
            "look up {dish} recipes that take under {max_minutes}",
            "show me a {diet} version of {dish}",
            "any good recipes for {dish}?",
            "I want to cook {dish} tonight, find me a recipe",
            "search recipes: {dish}, {diet}, ready in {max_minutes}",
            "pull up a recipe for {dish} that's {diet}",
        ),
        indirect=(
            "I've got friends coming over and I promised them {dish}",
            "my kid keeps asking for {dish} but I've never made it and I only have {max_minutes}",
        ),
        near_miss=("scale_recipe",),
    ),
    Tool(
        name="scale_recipe",
        description="Recalculate the ingredient quantities of a saved recipe for a different number "
                    "of servings.",
        params=(
            Param("recipe", "string", "Name of the saved recipe.", "text:recipe"),
            Param("servings", "integer", "Number of servings wanted.", "int:2:16"),
        ),
        templates=(
            "scale the {recipe} recipe to {servings} servings",
            "adjust {recipe} for {servings} people",
            "I need {recipe} for {servings}, recalculate the quantities",
            "resize my {recipe} recipe to serve {servings}",
            "how much of everything for {servings} portions of {recipe}?",
            "make the {recipe} recipe serve {servings}",
            "convert {recipe} to {servings} servings",
        ),
        indirect=(
            "we'll be {servings} at the table tonight and I'm making {recipe}, the amounts are all wrong",
            "I'm bringing {recipe} to a potluck for {servings} people and the card is written for a family",
        ),
        near_miss=("find_recipe", "convert_cooking_measure"),
    ),
    Tool(
        name="convert_cooking_measure",
        description="Convert a weight of an ingredient into a kitchen volume measure such as cups or "
                    "tablespoons.",
        params=(
            Param("amount_grams", "integer", "Weight to convert, in grams.", "grams"),
            Param("ingredient", "string", "Ingredient being measured; densities differ.",
                  "text:baking_ingredient"),
            Param("target_unit", "string", "Volume unit to convert into.", "enum",
                  enum=("cups", "tablespoons", "teaspoons", "fluid_ounces"),
                  surfaces={"tablespoons": ("tbsp",), "teaspoons": ("tsp",), "fluid_ounces": ("fl oz",)}),
        ),
        templates=(
            "how many {target_unit} is {amount_grams} of {ingredient}",
            "convert {amount_grams} of {ingredient} to {target_unit}",
            "what's {amount_grams} of {ingredient} in {target_unit}",
            "{amount_grams} of {ingredient}, how much is that in {target_unit}?",
            "turn {amount_grams} of {ingredient} into {target_unit} for me",
            "I need {amount_grams} of {ingredient} but only have measuring cups, what's that in {target_unit}",
            "change {amount_grams} of {ingredient} to {target_unit}",
        ),
        indirect=(
            "my scale just died and the recipe wants {amount_grams} of {ingredient}; I only have {target_unit} measures",
            "this British recipe lists {amount_grams} of {ingredient} and I think in {target_unit}",
        ),
        near_miss=("scale_recipe",),
    ),
)

"""Vocabularies and distributions of the demo data: categories, contexts, actions, search queries.

Every list is a tuple in a fixed order (never a set or a dict iteration over computed keys), so the
generator's draws map to the same values on every run.
"""

from __future__ import annotations

# --- engagement actions: closeup > click > save > hide --------------------------------------------------

ACTIONS: tuple[str, ...] = ("closeup", "click", "save", "hide")
ACTION_WEIGHTS: tuple[float, ...] = (0.52, 0.28, 0.14, 0.06)

# dwell_ms per action: log-normal (median ms, sigma of the log) and the probability that the client did
# not measure it (null). Saves rarely carry a dwell time.
DWELL_MEDIAN_MS: tuple[float, ...] = (1_800.0, 22_000.0, 4_000.0, 900.0)
DWELL_SIGMA: tuple[float, ...] = (1.1, 1.4, 0.9, 0.8)
DWELL_NULL_PROB: tuple[float, ...] = (0.04, 0.06, 0.70, 0.45)
DWELL_MAX_MS = 3_600_000

# --- request context ------------------------------------------------------------------------------------

SURFACES: tuple[str, ...] = ("homefeed", "search", "related", "profile")
ENGAGEMENT_SURFACE_WEIGHTS: tuple[float, ...] = (0.55, 0.20, 0.17, 0.08)
SEARCH_SURFACE_WEIGHTS: tuple[float, ...] = (0.14, 0.78, 0.05, 0.03)

DEVICES: tuple[str, ...] = ("ios", "android", "web")
DEVICE_WEIGHTS: tuple[float, ...] = (0.46, 0.34, 0.20)
PRIMARY_DEVICE_STICKINESS = 0.85
"""Probability that a session uses the user's primary device."""

# An old client version logs context values in other cases; the event types lower/upper-case them, so
# normalisation matters. These sessions are counted as a quirk, not a defect.
LEGACY_SURFACES: tuple[str, ...] = ("HOMEFEED", "Search", "RELATED", "Profile")
LEGACY_DEVICES: tuple[str, ...] = ("iOS", "Android", "WEB")
LEGACY_CLIENT_RATE = 0.03

COUNTRIES: tuple[str, ...] = (
    "US", "GB", "DE", "FR", "BR", "CA", "MX", "IN", "JP", "ES", "IT", "AU", "NL", "SE", "PL", "KR",
)
COUNTRY_WEIGHTS: tuple[float, ...] = (
    0.40, 0.08, 0.07, 0.06, 0.06, 0.05, 0.04, 0.04, 0.03, 0.03, 0.03, 0.03, 0.02, 0.02, 0.02, 0.02,
)

# UTC hour-of-day activity: the US evening (00-04 UTC) and the European evening (18-21 UTC) peak.
HOURLY_WEIGHTS: tuple[float, ...] = (
    1.30, 1.40, 1.45, 1.35, 1.10, 0.80, 0.55, 0.45, 0.45, 0.50, 0.60, 0.70,
    0.80, 0.90, 0.95, 1.00, 1.05, 1.10, 1.20, 1.25, 1.20, 1.15, 1.15, 1.20,
)

# Day-of-week volume (Monday first): weekends are busier.
WEEKDAY_WEIGHTS: tuple[float, ...] = (0.96, 0.95, 0.97, 0.99, 1.04, 1.16, 1.13)

# --- item taxonomy: 20 categories, 4-6 subcategories each, skewed category sizes ----------------------

CATEGORIES: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    ("home_decor", 0.12, ("living_room", "bedroom", "kitchen", "bathroom", "outdoor", "small_spaces")),
    ("food_and_drink", 0.11, ("dinner_recipes", "baking", "drinks", "healthy_eating", "vegetarian")),
    ("womens_fashion", 0.09, ("outfits", "dresses", "shoes", "accessories", "street_style")),
    ("beauty", 0.07, ("makeup", "skincare", "nails", "fragrance")),
    ("diy_and_crafts", 0.06, ("paper_crafts", "sewing", "upcycling", "kids_crafts", "woodworking")),
    ("hair", 0.05, ("hairstyles", "hair_color", "braids", "short_hair")),
    ("travel", 0.05, ("destinations", "packing", "road_trips", "city_guides")),
    ("weddings", 0.05, ("wedding_dresses", "decorations", "cakes", "invitations")),
    ("art", 0.045, ("drawing", "painting", "illustration", "tattoos", "street_art")),
    ("health_and_fitness", 0.045, ("workouts", "yoga", "running", "nutrition")),
    ("mens_fashion", 0.04, ("casual", "formal", "sneakers", "grooming")),
    ("gardening", 0.035, ("vegetables", "flowers", "houseplants", "landscaping")),
    ("kids_and_parenting", 0.035, ("activities", "nursery", "birthday_parties", "education")),
    ("holidays", 0.035, ("christmas", "halloween", "thanksgiving", "easter")),
    ("quotes", 0.03, ("inspirational", "funny", "love", "motivational")),
    ("animals", 0.03, ("dogs", "cats", "wildlife", "pet_care")),
    ("architecture", 0.025, ("houses", "interiors", "modern", "historic")),
    ("photography", 0.025, ("portraits", "landscape", "film", "editing")),
    ("technology", 0.02, ("gadgets", "desk_setups", "apps", "gaming")),
    ("cars_and_motorcycles", 0.02, ("classic_cars", "motorcycles", "car_interiors", "camper_vans")),
)
SUBCATEGORY_NULL_RATE = 0.01
"""Items whose sub-category is unknown (a null in the lookup table, not a defect)."""

# --- search queries ---------------------------------------------------------------------------------------

_QUERY_TOPICS: tuple[str, ...] = (
    "dinner recipes", "outfits", "nail art", "living room ideas", "bedroom decor", "tattoo ideas",
    "hairstyles", "wedding dresses", "garden ideas", "cake decorating", "phone wallpaper", "drawing ideas",
    "workout plan", "kitchen design", "birthday party ideas", "makeup looks", "travel destinations",
    "quotes", "crafts for kids", "christmas decorations", "halloween costumes", "bathroom ideas",
    "small apartment", "meal prep", "braids", "short haircuts", "yoga poses", "house plants",
    "engagement rings", "desk setup", "backyard patio", "fall outfits", "smoothie recipes",
    "baby shower ideas", "bullet journal", "wall art", "minimalist home", "dog names", "road trip",
    "skincare routine",
)
_QUERY_MODIFIERS: tuple[str, ...] = (
    "easy", "cute", "aesthetic", "diy", "summer", "winter", "vintage", "modern", "cheap", "healthy",
    "boho", "cozy", "simple", "black", "2026",
)
_EXTRA_QUERIES: tuple[str, ...] = (
    "crème brûlée", "café au lait nails", "déco salon", "ikea hacks", "t-shirt designs", "mother's day gifts",
    "rock 'n' roll outfits", "50th birthday", "how to draw a cat", "what to wear to a wedding",
    "k-pop hairstyles", "smörgåsbord", "naïve art", "zoë kravitz style",
)


def _build_queries() -> tuple[str, ...]:
    queries: list[str] = list(_QUERY_TOPICS)
    for modifier in _QUERY_MODIFIERS:
        queries.extend(f"{modifier} {topic}" for topic in _QUERY_TOPICS)
    queries.extend(_EXTRA_QUERIES)
    return tuple(queries)


QUERIES: tuple[str, ...] = _build_queries()
"""Canonical (lower-case, single-spaced) queries; popularity is Zipf-like over a seeded permutation."""

QUERY_ZIPF_EXPONENT = 1.0

# How a query is typed: (name, probability). The rest is typed as in QUERIES.
QUERY_VARIANTS: tuple[tuple[str, float], ...] = (
    ("title_case", 0.14),
    ("upper_case", 0.04),
    ("padded_whitespace", 0.06),
    ("double_space", 0.05),
    ("trailing_punctuation", 0.05),
    ("sentence_question", 0.02),
)
PADDINGS: tuple[tuple[str, str], ...] = (("  ", ""), ("", " "), ("\t", " "), (" ", "  "))
PUNCTUATION: tuple[str, ...] = ("?", "!", "...", ".", " ?")
EMPTY_QUERY_RATE = 0.006
BLANK_QUERY_RATE = 0.006
BLANK_QUERIES: tuple[str, ...] = (" ", "   ", "\t", " \n ")
NULL_QUERY_RATE = 0.002

NUM_RESULTS_NULL_RATE = 0.03
NUM_RESULTS_MEDIAN = 350.0
NUM_RESULTS_SIGMA = 1.4
ZERO_RESULT_QUERY_RATE = 0.04

# --- defects that can only be strings -------------------------------------------------------------------

# Parquet is typed, so a "wrong type" can only arrive as a string that does not parse: the search log's
# ISO-8601 `event_time` gets these. "{epoch_ms}" is replaced by the event's epoch milliseconds (a number
# where an ISO string was expected).
UNPARSEABLE_TIMESTAMPS: tuple[tuple[str, str], ...] = (
    ("not_a_date", "not-a-date"),
    ("impossible_fields", "2026-13-45T99:00:00Z"),
    ("empty", ""),
    ("epoch_number", "{epoch_ms}"),
    ("wrong_format", "31/11/2026 25:61"),
    ("nan", "NaN"),
)

# Out-of-range engagement timestamps: the epoch itself, seconds logged as milliseconds, the year 2300.
OUT_OF_RANGE_KINDS: tuple[str, ...] = ("zero", "seconds_not_ms", "year_2300")
